/**
 * registerMetrics(app, metrics, exposure): what feeds the metrics and where they are served.
 *
 * - Every response is counted with its route *pattern* (`/users/:user_id`), never the raw URL: one
 *   series per route rather than one per user id; requests that match no route share `unmatched`.
 * - Logins are counted here, from the answer of POST /auth/login and the error behind it, so the
 *   auth code needs no metrics calls: 2xx is a success; wrong credentials, a locked or a disabled
 *   account a failure; a correct password still waiting for its second factor `mfa_required`.
 * - A request that failed because the database was unavailable counts in db_errors_total.
 *
 * Exposure is never public by default: GET /metrics on the service's port exists only with a
 * token (`Authorization: Bearer <METRICS_TOKEN>`), and METRICS_PORT serves it on a listener of its
 * own (127.0.0.1 by default). With neither, /metrics is a 404 like any unknown path.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, errors } from '../errors.js';
import { StoreUnavailable } from '../store/store.js';
import type { LoginResult, Metrics } from './metrics.js';
import { createMetricsServer } from './metrics-server.js';

export interface MetricsExposure {
  /** Bearer token for GET /metrics on the service's own port; null: no such route. */
  token: string | null;
  /** A separate listener serving only /metrics; null: none. */
  port: number | null;
  host: string;
}

const LOGIN_ROUTE = '/auth/login';
const LOGIN_FAILURE_CODES = new Set(['INVALID_CREDENTIALS', 'ACCOUNT_LOCKED', 'ACCOUNT_DISABLED']);
const LOGIN_MFA_CODES = new Set(['MFA_REQUIRED']);

/** Call before the route modules are registered: the hooks must cover every route. */
export function registerMetrics(app: FastifyInstance, metrics: Metrics, exposure: MetricsExposure): void {
  const errorCodes = new WeakMap<FastifyRequest, string>();

  app.addHook('onError', async (request, _reply, error) => {
    if (error instanceof StoreUnavailable) metrics.countDbError('unavailable');
    if (error instanceof AppError) errorCodes.set(request, error.code);
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.observeRequest({ method: request.method, route, status: reply.statusCode }, reply.elapsedTime / 1000);
    if (route === LOGIN_ROUTE && request.method === 'POST') {
      const result = loginResult(reply.statusCode, errorCodes.get(request));
      if (result !== null) metrics.observeLogin(result);
    }
  });

  if (exposure.token !== null) {
    const expected = digest(exposure.token);
    app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
      const header = request.headers.authorization;
      if (header === undefined) throw errors.notAuthenticated();
      const match = /^Bearer\s+(.+)$/i.exec(header);
      // Compared as digests of equal length: the time taken says nothing about the token.
      if (match === null || !timingSafeEqual(digest(match[1] as string), expected)) throw errors.invalidToken();
      const { contentType, body } = await metrics.render();
      return reply.type(contentType).header('cache-control', 'no-store').send(body);
    });
  }

  if (exposure.port !== null) {
    const server = createMetricsServer(metrics, { host: exposure.host, port: exposure.port });
    app.addHook('onReady', async () => {
      const port = await server.listen();
      app.log.info(`metrics: http://${exposure.host}:${port}/metrics`);
    });
    app.addHook('onClose', async () => server.close());
  }
}

function loginResult(status: number, code: string | undefined): LoginResult | null {
  if (status >= 200 && status < 300) return 'success';
  if (code !== undefined && LOGIN_FAILURE_CODES.has(code)) return 'failure';
  if (code !== undefined && LOGIN_MFA_CODES.has(code)) return 'mfa_required';
  return null; // malformed request (422), rate limit, database down: not a login attempt's result
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
