/**
 * Health: /health/db for the old clients (now 503 when the database is down — the old service
 * said 200 "unhealthy" with raw error text), /health/live and /health/ready for orchestrators.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HealthService } from './health-service.js';

const SERVICE = 'User/Auth/QR Microservice';

const DbHealthSchema = Type.Object({
  status: Type.Union([Type.Literal('healthy'), Type.Literal('unhealthy')]),
  database: Type.Union([Type.Literal('connected'), Type.Literal('disconnected')]),
  service: Type.String(),
});
const StatusSchema = Type.Object({ status: Type.String() });

export function healthRoutes(health: HealthService): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/health/db',
      {
        schema: {
          tags: ['health'],
          summary: 'Database health',
          response: { 200: DbHealthSchema, 503: DbHealthSchema },
        },
      },
      async (_request, reply) => {
        const ok = await health.databaseUp();
        return reply.code(ok ? 200 : 503).send({
          status: ok ? 'healthy' : 'unhealthy',
          database: ok ? 'connected' : 'disconnected',
          service: SERVICE,
        });
      },
    );

    app.get(
      '/health/live',
      { schema: { tags: ['health'], summary: 'Liveness: the process answers', response: { 200: StatusSchema } } },
      async () => ({ status: 'ok' }),
    );

    app.get(
      '/health/ready',
      {
        schema: {
          tags: ['health'],
          summary: 'Readiness: the database answers and the service is not shutting down',
          response: { 200: StatusSchema, 503: StatusSchema },
        },
      },
      async (_request, reply) => {
        const state = await health.readiness();
        return reply.code(state === 'ready' ? 200 : 503).send({ status: state });
      },
    );
  };
}
