/**
 * The OpenAPI document (/openapi.json) and Swagger UI (/docs), with the bearer scheme. Routes
 * describe themselves; the errors every route of a kind can answer are added here, as each route
 * is registered, so no route repeats them and none forgets them.
 *
 * Swagger UI is loaded on its first visit, not at start-up: @fastify/swagger-ui and
 * @fastify/static cost ~70 ms of every cold start (profiled, issue 17) for a page few requests
 * reach. The first GET under /docs builds a small inner Fastify that serves the UI from the
 * finished document, and /docs answers what that inner app answers.
 */
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify';
import type { Config, RateLimit } from '../config.js';
import { withCommonErrors } from './error-schemas.js';
import { rateLimitRules } from './rate-limits.js';

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
        { name: 'attendance', description: 'Classroom attendance: courses, rosters, sessions with rotating QR codes, badge scans, reports' },
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
  const limited = rateLimitedRoutes();
  app.addHook('onRoute', (route) => {
    const schema = route.schema as DocumentedSchema | undefined;
    if (schema === undefined || schema.hide === true) return;
    const security = schema.security;
    const bearer = security?.some((s) => 'bearerAuth' in s) ?? false;
    // Every route that takes a bearer token also takes the OAuth2 form's token (the same token).
    if (bearer && !security?.some((s) => 'oauth2Password' in s)) security?.push({ oauth2Password: [] });
    if (schema.response === undefined) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    schema.response = withCommonErrors(schema.response, {
      bearer,
      body: methods.some((method) => BODY_METHODS.has(method)),
      validated: VALIDATED_PARTS.some((part) => schema[part] !== undefined),
      rateLimited: methods.some((method) => limited.has(`${method} ${route.url}`)) || hasOwnRateLimit(route),
    });
  });
  registerDocs(app);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

/** Headers of the inner app's answer that describe its own connection, not the page. */
const HOP_HEADERS = new Set(['content-length', 'connection', 'keep-alive', 'date', 'transfer-encoding']);

/** GET/HEAD /docs and everything under it, answered by Swagger UI, loaded on first use. */
function registerDocs(app: FastifyInstance): void {
  let ui: Promise<FastifyInstance> | undefined;
  const serve = async (request: FastifyRequest, reply: FastifyReply) => {
    ui ??= swaggerUiApp(app).catch((error: unknown) => {
      ui = undefined; // a failed load is retried by the next visit
      throw error;
    });
    const res = await (await ui).inject({
      method: request.method as 'GET' | 'HEAD',
      url: request.url,
      headers: { 'accept-encoding': 'identity', ...(request.headers['if-none-match'] ? { 'if-none-match': request.headers['if-none-match'] } : {}) },
    });
    for (const [name, value] of Object.entries(res.headers)) {
      if (!HOP_HEADERS.has(name) && value !== undefined) reply.header(name, value);
    }
    return reply.code(res.statusCode).send(res.rawPayload);
  };
  for (const url of ['/docs', '/docs/*']) {
    app.route({ method: ['GET', 'HEAD'], url, schema: { hide: true }, handler: serve });
  }
}

async function swaggerUiApp(app: FastifyInstance): Promise<FastifyInstance> {
  const { default: swaggerUi } = await import('@fastify/swagger-ui');
  const inner = Fastify({ logger: false });
  await inner.register(swagger, { mode: 'static', specification: { document: app.swagger() as never } });
  // Helmet's API policy allows nothing; the UI loads its own scripts, styles and fonts, and its
  // logo as a data: URL. No inline script or eval, no third-party origin (not even the validator).
  await inner.register(swaggerUi, { routePrefix: '/docs', staticCSP: DOCS_CSP });
  await inner.ready();
  return inner;
}

type DocumentedSchema = {
  hide?: boolean;
  security?: Record<string, string[]>[];
  response?: Record<string, unknown>;
} & Partial<Record<(typeof VALIDATED_PARTS)[number], unknown>>;

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const VALIDATED_PARTS = ['body', 'querystring', 'params', 'headers'] as const;

/** `METHOD /url` of every route a rule of http/rate-limits.ts limits. */
function rateLimitedRoutes(): Set<string> {
  // Which routes are limited depends on the rules alone, not on their numbers.
  const anyLimit: RateLimit = { max: 1, timeWindowMs: 1000 };
  const limits = new Proxy({}, { get: () => anyLimit }) as Config['rateLimits'];
  return new Set(rateLimitRules(limits).flatMap((rule) => rule.routes));
}

/** A route-level limit of @fastify/rate-limit (`config.rateLimit`), answered as RATE_LIMITED too. */
function hasOwnRateLimit(route: RouteOptions): boolean {
  const config = route.config as { rateLimit?: unknown } | undefined;
  return config?.rateLimit !== undefined && config.rateLimit !== false;
}
