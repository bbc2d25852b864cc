/**
 * buildApp(config, store, signing secret): the whole service, wired explicitly. Read this file to
 * see every module and route the service has.
 */
import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import { Type } from 'typebox';
import { authRoutes } from './auth/auth-routes.js';
import { createAuthenticator } from './auth/authenticate.js';
import { createPasswordHasher } from './auth/passwords.js';
import { createTokenService } from './auth/tokens.js';
import type { Config } from './config.js';
import { createHealthService, type HealthService } from './health/health-service.js';
import { healthRoutes } from './health/health-routes.js';
import { handleError } from './http/error-handler.js';
import { API_VERSION, registerOpenApi } from './http/openapi.js';
import { createValidatorCompiler } from './http/validators.js';
import { createQrImages } from './qr/qr-images.js';
import { createQrService } from './qr/qr-service.js';
import { qrRoutes } from './qr/qr-routes.js';
import type { Store } from './store/store.js';
import { userRoutes } from './users/user-routes.js';
import { createUserService, type UserService } from './users/user-service.js';

export const BODY_LIMIT = 1024 * 1024;
const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** Logged request and response fields that must never reach the log. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.passwordHash',
  '*.access_token',
];

export interface AppParts {
  app: FastifyInstance;
  users: UserService;
  health: HealthService;
}

export interface BuildOptions {
  config: Config;
  store: Store;
  signingSecret: Uint8Array;
  /** A pino logger, or Fastify logger options; false for silence (tests). */
  logger?: FastifyServerOptions['logger'] | FastifyBaseLogger;
}

export async function buildApp(options: BuildOptions): Promise<AppParts> {
  const { config, store, signingSecret } = options;
  const loggerOption = options.logger ?? { level: config.logLevel, redact: REDACT_PATHS };
  const app = Fastify({
    ...(isLoggerInstance(loggerOption) ? { loggerInstance: loggerOption } : { logger: loggerOption }),
    bodyLimit: BODY_LIMIT,
    trustProxy: config.trustProxy,
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : randomUUID();
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const passwords = createPasswordHasher();
  const users = createUserService(store, passwords, {
    minPasswordLength: config.passwords.minLength,
    maxPasswordBytes: config.passwords.maxBytes,
  });
  const tokens = createTokenService({ secret: signingSecret, ttlSeconds: config.jwt.accessTokenTtlSeconds });
  const auth = createAuthenticator(tokens, users);
  const qr = createQrService(users, createQrImages());
  const health = createHealthService(store, config.dbTimeoutMs);

  app.setValidatorCompiler(createValidatorCompiler());
  // JSON only: a text/plain body is refused with 415 rather than parsed as a string.
  app.removeContentTypeParser('text/plain');
  app.decorateRequest('user', null);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ detail: `Not Found: ${request.method} ${request.url.split('?')[0]}`, code: 'NOT_FOUND' }),
  );
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // While draining, close each connection after its response: keep-alive clients would
    // otherwise hold the server open until their idle timeout.
    if (health.isShuttingDown()) reply.header('connection', 'close');
  });
  // One log line per request (Fastify's default is two), with its id, status and time.
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        user: request.user?.id,
      },
      'request',
    );
  });

  await registerOpenApi(app);

  app.get(
    '/',
    {
      schema: {
        tags: ['meta'],
        summary: 'About the service',
        response: { 200: Type.Object({ message: Type.String(), version: Type.String(), docs: Type.String() }) },
      },
    },
    async () => ({ message: 'User/Auth/QR Microservice API', version: API_VERSION, docs: '/docs' }),
  );
  await app.register(healthRoutes(health));
  await app.register(authRoutes({ users, tokens, auth }));
  await app.register(userRoutes({ users, auth }));
  await app.register(qrRoutes({ qr, auth, encodeRateLimit: config.qr.encodeRateLimit }));

  return { app, users, health };
}

function isLoggerInstance(value: unknown): value is FastifyBaseLogger {
  return typeof value === 'object' && value !== null && typeof (value as FastifyBaseLogger).child === 'function';
}
