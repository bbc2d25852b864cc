/**
 * Brute-force limits, all in one table: every limit answers 429 `{"detail", "code": "RATE_LIMITED"}`
 * with Retry-After. Per IP they stay generous (a whole school can sit behind one NAT address);
 * per account (the email or username a request names) they are strict, whatever the address.
 * The per-account exponential lockout in the user service is the other half of the defence.
 *
 * Limits attach to routes by method and URL as the routes are added (an onRoute hook), so route
 * modules do not know about them and routes written elsewhere are covered by their URL alone. A
 * rule on a GET covers its HEAD too: no method of a route escapes its limits.
 *
 * Counters live in Redis when REDIS_URL is set, shared by every instance; in memory otherwise.
 * A Redis outage fails OPEN (the limits are skipped, loudly logged): failing closed would turn a
 * cache outage into a login outage for everyone, and the database-backed lockout keeps slowing
 * password guessing meanwhile.
 */
import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config, RateLimit } from '../config.js';
import { errors } from '../errors.js';

/** How long to wait for Redis: a slow Redis must not make logins slow (fail open after this). */
const REDIS_CONNECT_TIMEOUT_MS = 2000;
const REDIS_COMMAND_TIMEOUT_MS = 500;
/** Keys are namespaced: the Redis may be shared with other services. */
const REDIS_NAMESPACE = 'authqr:rl:';

interface Rule {
  /** Part of every counter key: rules never share counters, routes of one rule do. */
  name: string;
  /** `METHOD /url`, as registered. */
  routes: string[];
  limit: RateLimit;
  /** onRequest: before the body is read (per IP); preHandler: the body or the user is known. */
  hook: 'onRequest' | 'preHandler';
  /** What is counted; null: this request is not limited by this rule. */
  key(request: FastifyRequest): string | null | Promise<string | null>;
  /** X-RateLimit-* headers on every answer (the route's main limit only). */
  headers: boolean;
}

type Limiter = ReturnType<FastifyInstance['createRateLimit']>;

/** The API's routes and the web front's pages that do the same thing share their limits. */
const LOGIN = ['POST /auth/login', 'POST /auth/token', 'POST /sign-in'];

/** Who a request is about, for limits that count people rather than strings (from the services). */
export interface RateLimitSubjects {
  /** The account a login string names: the user when one has it (email and username alike), else the string. */
  account(login: string): Promise<string>;
  /** The user an mfa_token was issued to, or null for a token that is not a live challenge. */
  mfaUser(mfaToken: string): Promise<string | null>;
}

/** The second step of a sign-in (the page takes the mfa_token from its cookie into the body first). */
const MFA_VERIFY = ['POST /auth/2fa/verify', 'POST /sign-in/code'];

/** Asking for a reset mail (the page's field is `email`, as the API's: one per-address counter). */
const RESET_REQUEST = ['POST /auth/password-reset/request', 'POST /forgot-password'];

/** Routes where a signed-in user types a password or a code again. */
const REAUTH = [
  'POST /account/confirm',
  'POST /users/me/password',
  'POST /account/password',
  'POST /users/me/email',
  'POST /account/email',
  'POST /account/2fa/setup',
  'POST /account/2fa/confirm',
  'POST /account/2fa/disable',
  'POST /account/2fa/recovery-codes',
  'POST /auth/2fa/totp/setup',
  'POST /auth/2fa/totp/confirm',
  'POST /auth/2fa/totp/disable',
  'POST /auth/2fa/recovery-codes',
];

/** Passkey sign-in, API and page: per IP before anything is read (challenges cost a store write). */
const PASSKEY_LOGIN = [
  'POST /auth/passkeys/login/begin',
  'POST /auth/passkeys/login/finish',
  'POST /sign-in/passkey/options',
  'POST /sign-in/passkey',
];

/** Adding and managing passkeys, API and pages: per user. */
const PASSKEY_MANAGE = [
  'POST /auth/passkeys/register/begin',
  'POST /auth/passkeys/register/finish',
  'PATCH /auth/passkeys/:passkey_id',
  'DELETE /auth/passkeys/:passkey_id',
  'POST /account/passkeys/options',
  'POST /account/passkeys',
  'POST /account/passkeys/rename',
  'POST /account/passkeys/remove',
  'POST /manage/users/:id/passkeys/remove',
];

/** Subjects that resolve nobody: enough to list which routes are limited (the OpenAPI document). */
const NO_SUBJECTS: RateLimitSubjects = { account: async (login) => login, mfaUser: async () => null };

/** The rules of this service; exported for the OpenAPI document and the tests. */
export function rateLimitRules(limits: Config['rateLimits'], subjects: RateLimitSubjects = NO_SUBJECTS): Rule[] {
  const ip = (request: FastifyRequest) => request.ip;
  const user = (request: FastifyRequest) => request.user?.id ?? request.ip;
  const body = (request: FastifyRequest) => (request.body ?? {}) as Record<string, unknown>;
  return [
    { name: 'login-ip', routes: LOGIN, limit: limits.loginPerIp, hook: 'onRequest', key: ip, headers: true },
    {
      // The account, not the string sent: an account's email and username share one counter.
      name: 'login-account',
      routes: LOGIN,
      limit: limits.loginPerAccount,
      hook: 'preHandler',
      key: (request) => {
        // JSON login: email; the OAuth2 form: username; the sign-in page: login.
        const login = body(request).email ?? body(request).username ?? body(request).login;
        return typeof login === 'string' && login.trim() !== '' ? subjects.account(login.trim()) : null;
      },
      headers: false,
    },
    { name: 'register-ip', routes: ['POST /auth/register', 'POST /sign-up'], limit: limits.registerPerIp, hook: 'onRequest', key: ip, headers: true },
    { name: 'refresh-ip', routes: ['POST /auth/refresh'], limit: limits.refreshPerIp, hook: 'onRequest', key: ip, headers: true },
    { name: 'oidc-token-ip', routes: ['POST /oidc/token'], limit: limits.oidcTokenPerIp, hook: 'onRequest', key: ip, headers: true },
    {
      name: 'reset-ip',
      routes: RESET_REQUEST,
      limit: limits.passwordResetPerIp,
      hook: 'onRequest',
      key: ip,
      headers: true,
    },
    {
      // Counted for unknown addresses too, so a 429 says nothing about whether an account exists.
      name: 'reset-email',
      routes: RESET_REQUEST,
      limit: limits.passwordResetPerEmail,
      hook: 'preHandler',
      key: accountOf,
      headers: false,
    },
    { name: 'mfa-ip', routes: MFA_VERIFY, limit: limits.mfaVerifyPerIp, hook: 'onRequest', key: ip, headers: true },
    {
      name: 'mfa-user',
      routes: MFA_VERIFY,
      limit: limits.mfaVerifyPerUser,
      hook: 'preHandler',
      key: (request) => {
        const token = body(request).mfa_token;
        return typeof token === 'string' ? subjects.mfaUser(token) : null;
      },
      headers: false,
    },
    // After authentication: per user rather than per (shared) address.
    { name: 'reauth-user', routes: REAUTH, limit: limits.reauthPerUser, hook: 'preHandler', key: user, headers: true },
    {
      name: 'verify-email-user',
      routes: ['POST /auth/verify-email/request', 'POST /verify-email', 'POST /account/verify-email'],
      limit: limits.verifyEmailPerUser,
      hook: 'preHandler',
      key: user,
      headers: true,
    },
    { name: 'qr-encode-user', routes: ['POST /qr/encode'], limit: limits.qrEncodePerUser, hook: 'preHandler', key: user, headers: true },
    { name: 'qr-verify-ip', routes: ['POST /qr/verify', 'POST /check'], limit: limits.qrVerifyPerIp, hook: 'onRequest', key: ip, headers: true },
    {
      // Decoding an image and drawing a badge cost CPU: per user, after authentication.
      name: 'qr-scan-user',
      // The badge pages: making a badge, and the checker's photo upload.
      routes: ['POST /qr/scan', 'POST /qr/generate', 'POST /badge', 'POST /check/photo'],
      limit: limits.qrScanPerUser,
      hook: 'preHandler',
      key: user,
      headers: true,
    },
    {
      name: 'qr-login-ip',
      // The web front's screen that shows the code starts, reads and collects like the API.
      routes: [
        'POST /auth/qr-login/start',
        'GET /auth/qr-login/:id',
        'POST /auth/qr-login/:id',
        'GET /sign-in/qr',
        'GET /sign-in/qr/status',
        'POST /sign-in/qr/collect',
      ],
      limit: limits.qrLoginPerIp,
      hook: 'onRequest',
      key: ip,
      headers: true,
    },
    {
      name: 'qr-login-user',
      routes: [
        'GET /auth/qr-login/:id/info',
        'POST /auth/qr-login/:id/approve',
        'POST /auth/qr-login/:id/deny',
        'GET /qr-login',
        'POST /qr-login/approve',
        'POST /qr-login/deny',
      ],
      limit: limits.qrLoginApprovePerUser,
      hook: 'preHandler',
      key: user,
      headers: true,
    },
    { name: 'passkey-login-ip', routes: PASSKEY_LOGIN, limit: limits.passkeyLoginPerIp, hook: 'onRequest', key: ip, headers: true },
    { name: 'passkey-manage-user', routes: PASSKEY_MANAGE, limit: limits.passkeyManagePerUser, hook: 'preHandler', key: user, headers: true },
  ];
}

/**
 * The email a reset request names, lower-cased so case variants share one counter, and hashed so
 * no address sits in Redis. (Counted for unknown addresses too, without a look-up.)
 */
function accountOf(request: FastifyRequest): string | null {
  const body = request.body as { email?: unknown; username?: unknown } | null | undefined;
  const account = typeof body?.email === 'string' ? body.email : body?.username;
  if (typeof account !== 'string' || account.trim() === '') return null;
  return createHash('sha256').update(account.trim().toLowerCase()).digest('base64url');
}

/**
 * Registers the limiter and the rules. Call it before any route is registered: the rules attach
 * to routes as they are added.
 */
export async function registerRateLimits(
  app: FastifyInstance,
  options: { limits: Config['rateLimits']; redisUrl: string | null; subjects: RateLimitSubjects },
): Promise<void> {
  const redis = options.redisUrl === null ? undefined : await connectRedis(options.redisUrl, app.log);
  if (redis !== undefined) {
    app.addHook('onClose', async () => {
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
    });
  }
  await app.register(rateLimit, {
    global: false,
    redis,
    nameSpace: REDIS_NAMESPACE,
    skipOnError: true,
    // For any route that sets its own `config.rateLimit`: the same answer as the rules below.
    errorResponseBuilder: (_request, context) => errors.rateLimited(Math.max(1, Math.ceil(context.ttl / 1000))),
  });

  const attached = rateLimitRules(options.limits, options.subjects).map((rule) => ({
    rule,
    limiter: app.createRateLimit({
      max: rule.limit.max,
      timeWindow: rule.limit.timeWindowMs,
      // The key was worked out (perhaps with a look-up) by enforce() and left on the request.
      keyGenerator: (request) => `${rule.name}:${keyOf(request, rule.name) ?? ''}`,
    }),
  }));
  app.addHook('onRoute', (route) => {
    // HEAD is a GET without the body: the same limits (Fastify adds HEAD routes for GETs).
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).map((m) => (m === 'HEAD' ? 'GET' : m));
    for (const { rule, limiter } of attached) {
      if (methods.some((method) => rule.routes.includes(`${method} ${route.url}`))) {
        addRouteHook(route, rule.hook, enforce(rule, limiter));
      }
    }
  });
}

const KEYS = Symbol('rate-limit keys');
type WithKeys = FastifyRequest & { [KEYS]?: Record<string, string | null> };
const keyOf = (request: FastifyRequest, rule: string) => (request as WithKeys)[KEYS]?.[rule] ?? null;

function enforce(rule: Rule, limiter: Limiter) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const key = await rule.key(request);
    if (key === null) return;
    const keys = ((request as WithKeys)[KEYS] ??= {});
    keys[rule.name] = key;
    const result = await limiter(request);
    if (result.isAllowed) return;
    if (rule.headers) {
      reply.header('x-ratelimit-limit', String(result.max));
      reply.header('x-ratelimit-remaining', String(result.remaining));
      reply.header('x-ratelimit-reset', String(result.ttlInSeconds));
    }
    if (result.isExceeded) throw errors.rateLimited(Math.max(1, result.ttlInSeconds));
  };
}

function addRouteHook(route: RouteOptions, hook: 'onRequest' | 'preHandler', handler: ReturnType<typeof enforce>): void {
  if (hook === 'onRequest') {
    // Per-IP limits run first, before any token is verified: a refused request costs almost nothing.
    route.onRequest = [handler, ...asList(route.onRequest)];
  } else {
    route.preHandler = [...asList(route.preHandler), handler];
  }
}

const asList = <T>(hooks: T | T[] | undefined): T[] => (hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks]);

/**
 * A Redis client that never makes a request wait long: commands fail at once while disconnected
 * (no offline queue) and after REDIS_COMMAND_TIMEOUT_MS when Redis hangs; it reconnects by itself.
 */
async function connectRedis(url: string, log: FastifyBaseLogger): Promise<Redis> {
  // Loaded only when REDIS_URL is set.
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (attempt) => Math.min(attempt * 200, 5000),
  });
  // One line per outage, not one per reconnection attempt.
  let healthy = true;
  redis.on('error', (error: Error) => {
    if (!healthy) return;
    healthy = false;
    log.error({ err: error }, 'Redis unreachable: rate limits are skipped (fail open) until it is back');
  });
  redis.on('ready', () => {
    if (!healthy) log.warn('Redis reachable again: rate limits are shared again');
    healthy = true;
  });
  try {
    await redis.connect();
  } catch {
    // Logged by the error listener; the client keeps retrying in the background.
  }
  return redis;
}
