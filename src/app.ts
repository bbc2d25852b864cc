/**
 * buildApp(config, store, keys): the whole service, wired explicitly. Read this file to
 * see every module and route the service has.
 */
import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import { createAttendance } from './attendance/attendance.js';
import { createAuditLog } from './audit/audit-log.js';
import { auditRoutes } from './audit/audit-routes.js';
import { authRoutes } from './auth/login/auth-routes.js';
import { createAuthenticator } from './auth/authenticate.js';
import { createEmailVerificationService } from './auth/recovery/email-verification-service.js';
import { createLegacyHashWatch } from './auth/passwords/legacy-hashes.js';
import { createPasswordHasher } from './auth/passwords/passwords.js';
import { deriveSecret, type KeySet } from './auth/tokens/keys.js';
import { createLoginFlow } from './auth/login/login-flow.js';
import { createLoginThrottle } from './auth/login/login-throttle.js';
import { createPasskeyService } from './auth/passkeys/passkey-service.js';
import { passkeyRoutes } from './auth/passkeys/passkey-routes.js';
import { createRelyingParty } from './auth/passkeys/relying-party.js';
import { createQrLoginService } from './auth/qr-login/qr-login.js';
import { qrLoginRoutes } from './auth/qr-login/qr-login-routes.js';
import { passwordRoutes } from './auth/recovery/password-routes.js';
import { createPasswordService } from './auth/recovery/password-service.js';
import { sessionRoutes } from './auth/sessions/session-routes.js';
import { createSessionService } from './auth/sessions/session-service.js';
import { createTokenService } from './auth/tokens/tokens.js';
import { totpRoutes } from './auth/totp/totp-routes.js';
import { createTotpService } from './auth/totp/totp-service.js';
import type { Config } from './config.js';
import { createHealthService, type HealthService } from './health/health-service.js';
import { healthRoutes } from './health/health-routes.js';
import { createAccessLog } from './http/access-log.js';
import { createPublicUrl } from './http/public-url.js';
import { handleError, type Unroutable, unroutableHandler } from './http/error-handler.js';
import { registerOpenApi } from './http/openapi.js';
import { registerRateLimits } from './http/rate-limits.js';
import { registerSecurityHeaders } from './http/security-headers.js';
import { createLazySchemas, type LazySchemas } from './http/lazy-schemas.js';
import { createValidatorCompiler } from './http/validators.js';
import { createBackgroundTasks } from './mail/background-tasks.js';
import { createMailer } from './mail/mailer.js';
import { outboxRoutes } from './mail/outbox-routes.js';
import { createQrImages } from './qr-render/qr-images.js';
import { badgeKeyOf, createQrService } from './qr/qr-service.js';
import { badgeRoutes } from './qr/badge-routes.js';
import { createBadgeVerifier } from './qr/badge-verifier.js';
import { defaultQrScanner } from './qr/qr-scan.js';
import { qrRoutes } from './qr/qr-routes.js';
import type { Store } from './store/store.js';
import { userRoutes } from './users/user-routes.js';
import { loadWebAssets } from './web/assets.js';
import { createWebFront, wantsHtml } from './web/web-front.js';
import { createUserService, type UserService } from './users/user-service.js';

export const BODY_LIMIT = 1024 * 1024;
const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** Logged request and response fields that must never reach the log. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  // Bodies and users are never logged; these explicit paths are the safety net, cheaper on every
  // log line than wildcards.
  'password',
  'body.password',
  'body.current_password',
  'body.new_password',
  'passwordHash',
  'user.passwordHash',
  'access_token',
  'refresh_token',
];

export interface AppParts {
  app: FastifyInstance;
  users: UserService;
  health: HealthService;
  /** Route schemas, compiled on first use (http/lazy-schemas.ts). */
  schemas: LazySchemas;
  /** The web front's page routes (web/web-front.ts). */
  pageRoutes: readonly { method: string; url: string }[];
}

export interface BuildOptions {
  config: Config;
  store: Store;
  /** Token keys (see auth/tokens/keys.ts resolveKeySet). */
  keys: KeySet;
  /** A pino logger, or Fastify logger options; false for silence (tests). */
  logger?: FastifyServerOptions['logger'] | FastifyBaseLogger;
  /** The time the login locks count in (tests move it instead of sleeping); the system clock by default. */
  clock?: () => Date;
}

export async function buildApp(options: BuildOptions): Promise<AppParts> {
  const { config, store, keys } = options;
  const loggerOption = options.logger ?? { level: config.logLevel, redact: REDACT_PATHS };
  // Requests the router cannot match answer through the web front's 404 page once it exists.
  const unroutable: Unroutable = { page: null };
  const app = Fastify({
    frameworkErrors: unroutableHandler(unroutable),
    ...(isLoggerInstance(loggerOption) ? { loggerInstance: loggerOption } : { logger: loggerOption }),
    bodyLimit: BODY_LIMIT,
    trustProxy: trustProxyOption(config.trustProxy),
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    requestTimeout: config.http.requestTimeoutMs,
    connectionTimeout: config.http.connectionTimeoutMs,
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : randomUUID();
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const audit = createAuditLog(store, app.log);
  // Measured only when exposed somewhere (METRICS_TOKEN or METRICS_PORT).
  const exposeMetrics = config.metrics.token !== null || config.metrics.port !== null;
  // prom-client is loaded only when metrics are exposed.
  const metricsModule = exposeMetrics ? await import('./metrics/metrics.js') : null;
  const metrics = metricsModule?.createMetrics({ poolStats: metricsModule.poolStatsOf(store) }) ?? null;
  // While imported bcrypt hashes remain, failed checks of every kind of account cost the same (passwords.ts).
  const legacyHashes = createLegacyHashWatch(store);
  const hasher = createPasswordHasher({ legacyHashesRemain: legacyHashes.remain });
  const passwords = metrics === null ? hasher : metrics.timePasswords(hasher);
  const passwordRules = { minPasswordLength: config.passwords.minLength, maxPasswordBytes: config.passwords.maxBytes };
  const tokens = createTokenService({
    keys,
    ttlSeconds: config.jwt.accessTokenTtlSeconds,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
  });
  const sessions = createSessionService({
    store,
    tokens,
    audit,
    refreshTtlSeconds: config.jwt.refreshTokenTtlSeconds,
    browserTtlSeconds: config.jwt.browserSessionTtlSeconds,
    accessTtlSeconds: config.jwt.accessTokenTtlSeconds,
  });
  // One count of attempts at a secret for every route that checks one (logins, 2FA, re-authentication).
  const throttle = createLoginThrottle({ store, audit, now: options.clock });
  const publicUrl = createPublicUrl(config);
  // SMTP when SMTP_URL is set, else the development outbox (log + GET /admin/outbox).
  const { mailer, outbox } = createMailer(config, app.log);
  const background = createBackgroundTasks(app.log);
  const mailDeps = { store, audit, mailer, background, publicUrl: publicUrl.base };
  const emailVerification = createEmailVerificationService(mailDeps);
  const users = createUserService({
    store,
    passwords,
    audit,
    sessions,
    throttle,
    rules: passwordRules,
    emailMails: emailVerification,
  });
  const login = createLoginFlow({ store, audit });
  const auth = createAuthenticator(tokens, users);
  const qr = createQrService({
    users,
    store,
    images: createQrImages(),
    badgeKey: badgeKeyOf(config.qr.signed, keys),
    badgeTtlSeconds: config.qr.badgeTtlDays * 24 * 3600,
  });
  const badges = createBadgeVerifier({ verifying: keys.verifying, users });
  // One scanner (its queue and budgets) for POST /qr/scan and the badge checker's photo upload.
  const scanner = defaultQrScanner();
  const qrLogin = createQrLoginService({ store, users, sessions, login, audit, publicUrl: publicUrl.base });
  // Its own renderer with no cache: the otpauth:// URI holds the secret, which must not linger in memory.
  const totp = createTotpService({
    store,
    passwords,
    login,
    audit,
    images: createQrImages({ maxEntries: 0, maxBytes: 0 }),
    issuer: config.totp.issuer,
    throttle,
    sessions,
  });
  // Courses, sessions, check-ins and their live lists (Redis pub/sub between instances when REDIS_URL is set).
  const attendance = await createAttendance({ store, audit, users, badges, clock: options.clock, redisUrl: config.redisUrl, log: app.log });
  const passkeys = createPasskeyService({
    store,
    audit,
    login,
    throttle,
    rp: createRelyingParty(config.webauthn, publicUrl.base),
    verifyPassword: users.verifyPassword,
    findByLogin: users.findByLogin,
    now: options.clock,
  });
  const health = createHealthService(store, config.dbTimeoutMs);
  const passwordService = createPasswordService({ ...mailDeps, users, passwords, sessions, throttle, rules: passwordRules });
  // Mails promised before shutdown are still sent, then the SMTP connection closes.
  // PORT=0 lets the system pick: development links follow the port actually bound.
  app.addHook('onListen', (done) => {
    const address = app.server.address();
    if (address !== null && typeof address === 'object') publicUrl.listening(address.port);
    done();
  });
  app.addHook('onClose', async () => {
    await attendance.close();
    await background.drain();
    mailer.close();
  });

  // The OpenID Connect provider (oidc/), when an issuer is configured (OIDC_ISSUER or PUBLIC_URL);
  // loaded only then (oidc-provider is large, and warns on Node 20 when imported).
  // It signs with the Ed25519 keys (or an RSA key): an HS256-only set-up has none to publish, so
  // the provider stays off there, said once in the log, rather than stopping the service.
  const oidcSignable = config.oidc !== null && (keys.verifying.size > 0 || config.oidc.rsaKeys !== null);
  if (config.oidc !== null && !oidcSignable) {
    app.log.warn('OpenID Connect is off: it needs Ed25519 keys (JWT_SIGNING_KEYS) or an RSA key (OIDC_RSA_KEYS_FILE), and tokens are HS256 only');
  }
  const oidc =
    config.oidc === null || !oidcSignable
      ? null
      : (await import('./oidc/oidc.js')).createOidc({ config, oidc: config.oidc, store, keys, sessions, audit });

  const schemas = createLazySchemas(createValidatorCompiler());
  app.setValidatorCompiler(schemas.validatorCompiler);
  app.setSerializerCompiler(schemas.serializerCompiler);
  // JSON only: a text/plain body is refused with 415 rather than parsed as a string.
  app.removeContentTypeParser('text/plain');
  app.decorateRequest('user', null);
  app.decorateRequest('tokenClaims', null);
  app.setErrorHandler(handleError);
  const web = createWebFront({
    config,
    assets: await loadWebAssets(),
    csrfSecret: deriveSecret(keys, 'csrf'),
    users,
    login,
    sessions,
    totp,
    emailVerification,
    passwordService,
    audit,
    outbox,
    publicUrl: publicUrl.base,
    qrLogin,
    qr,
    badges,
    scanner,
    attendance,
    passkeys,
    oidc: oidc === null ? null : { provider: oidc.provider, clients: oidc.clients, consents: oidc.consents, audit },
  });
  unroutable.page = { wanted: wantsHtml, render: (request, reply) => web.notFound(request, reply) };
  app.setNotFoundHandler((request, reply) =>
    wantsHtml(request)
      ? web.notFound(request, reply)
      : reply.code(404).send({ detail: `Not Found: ${request.method} ${request.url.split('?')[0]}`, code: 'NOT_FOUND' }),
  );
  // Hooks on every request are callback-style, not async: a promise and a microtask less each
  // (bench/: they are a measurable part of a small request's cost).
  app.addHook('onRequest', (request, reply, done) => {
    // Set before any work, so error and 404 answers carry it too.
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    // While draining, close each connection after its response (requests that began before the
    // drain included): keep-alive clients would otherwise hold the server open until their idle timeout.
    if (health.isShuttingDown()) reply.header('connection', 'close');
    done(null, payload);
  });
  // One log line per request (Fastify's default is two), with its id, status and time.
  const accessLog = createAccessLog(app.log);
  app.addHook('onResponse', (request, reply, done) => {
    accessLog(request, reply);
    done();
  });

  if (metrics !== null) (await import('./metrics/metrics-hooks.js')).registerMetrics(app, metrics, config.metrics);
  await registerSecurityHeaders(app, { corsOrigins: config.corsOrigins });
  // Before any route: the limits attach to routes (by URL) as they are added.
  await registerRateLimits(app, {
    limits: config.rateLimits,
    redisUrl: config.redisUrl,
    subjects: {
      account: async (login) => throttle.subjectOf(await users.findByLogin(login), login),
      mfaUser: (mfaToken) => totp.challengeUserOf(mfaToken),
    },
  });
  await registerOpenApi(app);

  await app.register(healthRoutes(health));
  await app.register(authRoutes({ users, login, sessions, auth }));
  await app.register(sessionRoutes({ users, sessions, login, auth, keys }));
  await app.register(totpRoutes({ totp, sessions, auth }));
  await app.register(userRoutes({ users, auth }));
  await app.register(passwordRoutes({ passwordService, emailVerification, auth }));
  await app.register(outboxRoutes({ outbox, auth }));
  await app.register(qrRoutes({ qr, auth }));
  await app.register(badgeRoutes({ verifier: badges, auth, scanner }));
  await app.register(qrLoginRoutes({ qrLogin, sessions, auth }));
  await app.register(passkeyRoutes({ passkeys, sessions, users, auth }));
  await app.register(auditRoutes({ audit, auth }));
  await app.register(attendance.routes({ auth, publicUrl: config.mail.publicUrl }));
  if (oidc !== null) {
    await app.register(oidc.providerRoutes);
    await app.register(oidc.clientRoutes(auth));
  }
  // The web front (and GET /, which answers browsers with the start page and clients with JSON).
  await app.register(web.plugin);

  return { app, users, health, schemas, pageRoutes: web.routes };
}

/**
 * Fastify's trustProxy for TRUST_PROXY. A hop count becomes "the N addresses nearest to us are
 * proxies" (Fastify itself now refuses plain numbers: a count cannot tell the proxy from a client
 * that connects directly, so it holds only where the proxies are the one way in, as on Render;
 * docs/deploy.md says so). Addresses and CIDRs go to Fastify as they are.
 */
function trustProxyOption(trust: Config['trustProxy']): FastifyServerOptions['trustProxy'] {
  if (typeof trust !== 'number') return trust;
  return (_address: string, hop: number) => hop < trust;
}

function isLoggerInstance(value: unknown): value is FastifyBaseLogger {
  return typeof value === 'object' && value !== null && typeof (value as FastifyBaseLogger).child === 'function';
}
