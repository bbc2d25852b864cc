/**
 * Health: /health/db for the old clients (now 503 when the database is down — the old service
 * said 200 "unhealthy" with raw error text), /health/live and /health/ready for orchestrators.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { response } from '../http/doc-schemas.js';
import type { HealthService } from './health-service.js';

const SERVICE = 'User/Auth/QR Microservice';

// Enums, not unions of literals: an `anyOf` makes fast-json-stringify build an Ajv instance for
// this serializer, 20-60 ms of the first answer after a cold start (issue 17), for the same JSON.
const DbHealthSchema = Type.Object({
  status: Type.Enum(['healthy', 'unhealthy']),
  database: Type.Enum(['connected', 'disconnected']),
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
          description:
            "The old service's check, for its clients: 200 when the database answers, 503 (same body shape) " +
            'when it does not. Orchestrators want GET /health/ready.',
          response: {
            200: response('The database answers', DbHealthSchema, { status: 'healthy', database: 'connected', service: SERVICE }),
            503: response('The database does not answer', DbHealthSchema, {
              status: 'unhealthy',
              database: 'disconnected',
              service: SERVICE,
            }),
          },
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
      {
        schema: {
          tags: ['health'],
          summary: 'Liveness: the process answers',
          description: 'Always 200 while the process runs; touches nothing else (a liveness probe must not fail with the database).',
          response: { 200: response('Alive', StatusSchema, { status: 'ok' }) },
        },
      },
      async () => ({ status: 'ok' }),
    );

    app.get(
      '/health/ready',
      {
        schema: {
          tags: ['health'],
          summary: 'Readiness: the database answers and the service is not shutting down',
          description:
            'For load balancers and orchestrators: 503 `shutting_down` as soon as a graceful shutdown starts (so ' +
            'traffic moves away while requests in flight finish), 503 `database_unavailable` while the database ' +
            'does not answer.',
          response: {
            200: response('Ready', StatusSchema, { status: 'ready' }),
            503: response('Not ready', StatusSchema, { status: 'shutting_down' }, { status: 'database_unavailable' }),
          },
        },
      },
      async (_request, reply) => {
        const state = await health.readiness();
        return reply.code(state === 'ready' ? 200 : 503).send({ status: state });
      },
    );
  };
}
