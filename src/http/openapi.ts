/** The OpenAPI document (/openapi.json) and Swagger UI (/docs), with the bearer scheme. */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

export const API_VERSION = '1.0.0';

/** The Content-Security-Policy of Swagger UI at /docs (the rest of the API allows nothing). */
export const DOCS_CSP = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

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
        { name: 'admin', description: 'Administration: the audit log, the development mail outbox' },
        { name: 'health', description: 'Health checks' },
        { name: 'meta', description: 'About the service' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          // Swagger UI's Authorize dialog logs in with a username (or email) and password.
          oauth2Password: { type: 'oauth2', flows: { password: { tokenUrl: '/auth/token', scopes: {} } } },
        },
      },
    },
  });
  // Every route that takes a bearer token also takes the OAuth2 form's token (the same token).
  app.addHook('onRoute', (route) => {
    const security = (route.schema as { security?: Record<string, string[]>[] } | undefined)?.security;
    if (security?.some((s) => 'bearerAuth' in s) && !security.some((s) => 'oauth2Password' in s)) {
      security.push({ oauth2Password: [] });
    }
  });
  // Helmet's API policy allows nothing; the UI loads its own scripts, styles and fonts, and its
  // logo as a data: URL. No inline script or eval, no third-party origin (not even the validator).
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: DOCS_CSP });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
