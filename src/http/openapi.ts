/** The OpenAPI document (/openapi.json) and Swagger UI (/docs), with the bearer scheme. */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

export const API_VERSION = '1.0.0';

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'User/Auth/QR Microservice',
        version: API_VERSION,
        description:
          'Registration, JWT login, users with roles (student, teacher, admin) and QR codes. ' +
          'A drop-in successor of the Python service: same paths, bodies and answers.',
      },
      tags: [
        { name: 'auth', description: 'Registration and login' },
        { name: 'users', description: 'Users and their roles' },
        { name: 'qr', description: 'QR codes that identify a user' },
        { name: 'health', description: 'Health checks' },
        { name: 'meta', description: 'About the service' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
