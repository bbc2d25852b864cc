/**
 * Configuration: the ONLY module that reads the environment (plus `.env` when present).
 * Everything is validated at start-up, with one message per problem, and frozen.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { parseEnv } from 'node:util';

export type DatabaseConfig =
  | { kind: 'sqlite'; file: string }
  | { kind: 'postgres'; url: string; poolSize: number; statementTimeoutMs: number; userCache?: boolean }
  | { kind: 'mongodb'; url: string; dbName: string };

export interface Config {
  nodeEnv: 'development' | 'production' | 'test';
  host: string;
  port: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * Which X-Forwarded-For entries to believe (Fastify's trustProxy): false (none, the default),
   * a number of proxy hops in front, or the proxies' addresses and CIDRs. Never "all": the left
   * end of X-Forwarded-For is whatever the client wrote.
   */
  trustProxy: boolean | number | string[];
  /** HTTP server timeouts for running behind a proxy or load balancer; 0 turns one off. */
  http: {
    /** Idle keep-alive connections close after this: longer than the proxy's own idle timeout. */
    keepAliveTimeoutMs: number;
    /** Longest time to receive a whole request (headers and body): slow clients are cut off. */
    requestTimeoutMs: number;
    /** A connection with no traffic either way for this long is closed (stuck or slow-reading clients). */
    connectionTimeoutMs: number;
    /** On SIGTERM, how long to keep serving with /health/ready at 503 before closing (lets load balancers drain). */
    shutdownDelayMs: number;
  };
  database: DatabaseConfig;
  /** How long a database call may take before the request answers 503. */
  dbTimeoutMs: number;
  /** Folder for generated state (the SQLite file by default, a generated signing key). */
  dataDir: string;
  jwt: {
    /** What signs new access tokens (both verify when configured). */
    alg: 'EdDSA' | 'HS256';
    /** HS256 secret (JWT_SECRET), the old service's variable; verified whenever it is set. */
    secret: string | null;
    /** JSON of private Ed25519 JWKs (JWT_SIGNING_KEYS or the file JWT_SIGNING_KEYS_FILE); null: generate in dataDir. */
    signingKeys: string | null;
    /** The file the keys were read from (JWT_SIGNING_KEYS_FILE), for messages; null when inline or generated. */
    signingKeysFile: string | null;
    issuer: string | null;
    audience: string | null;
    accessTokenTtlSeconds: number;
    refreshTokenTtlSeconds: number;
    /** How long a browser's sign-in (the web pages' session cookie) lasts at most. */
    browserSessionTtlSeconds: number;
  };
  passwords: { minLength: number; maxBytes: number };
  /** Bootstrap admin created at start-up when no user has this email. */
  admin: { email: string; password: string; username: string } | null;
  users: { defaultPageSize: number; maxPageSize: number };
  /** QR badges: signed (Ed25519, needs JWT_ALG=EdDSA) or the old plain payload, and how long they last. */
  qr: { signed: boolean; badgeTtlDays: number };
  /**
   * Request limits (429 with Retry-After). Per IP they stay generous (a whole school can sit
   * behind one NAT address); per account they are strict. Shared across instances via `redisUrl`.
   */
  rateLimits: {
    /** POST /auth/login and POST /auth/token together. */
    loginPerIp: RateLimit;
    /** Login attempts naming one email or username, from anywhere. */
    loginPerAccount: RateLimit;
    registerPerIp: RateLimit;
    refreshPerIp: RateLimit;
    passwordResetPerIp: RateLimit;
    /** Reset requests naming one email, from anywhere (each one sends a mail). */
    passwordResetPerEmail: RateLimit;
    mfaVerifyPerIp: RateLimit;
    /** POST /auth/2fa/verify, per user the mfa_token belongs to. */
    mfaVerifyPerUser: RateLimit;
    /** Routes where a signed-in user types a password or a code again (password change, TOTP setup/confirm/disable, recovery codes). */
    reauthPerUser: RateLimit;
    /** POST /auth/verify-email/request, per user (each one sends a mail). */
    verifyEmailPerUser: RateLimit;
    /** POST /qr/encode, per authenticated user. */
    qrEncodePerUser: RateLimit;
    /** POST /qr/verify (public, for door scanners), per IP. */
    qrVerifyPerIp: RateLimit;
    /** POST /qr/scan (image decoding costs CPU) and POST /qr/generate, per user. */
    qrScanPerUser: RateLimit;
    /** Sign-in by QR: starting and polling, per IP; reading and approving, per user. */
    qrLoginPerIp: RateLimit;
    qrLoginApprovePerUser: RateLimit;
    /** Passkey sign-in (begin and finish, API and page), per IP. */
    passkeyLoginPerIp: RateLimit;
    /** Passkey registration and management (list, rename, delete), per user. */
    passkeyManagePerUser: RateLimit;
    /** The OpenID Connect token endpoint (POST /oidc/token), per IP. */
    oidcTokenPerIp: RateLimit;
  };
  /** Redis (REDIS_URL) shares the rate-limit counters between instances; null: in memory, per instance. */
  redisUrl: string | null;
  /** Browser origins allowed to call the API (CORS); empty: no CORS headers; ['*']: any origin. */
  corsOrigins: string[];
  /** TOTP second factor: the issuer name authenticator apps show beside the account. */
  totp: { issuer: string };
  /**
   * Passkeys' relying party (auth/passkeys), from configuration only, never from a request's
   * headers. `origins`: the exact origins a passkey ceremony may come from (WEBAUTHN_ORIGINS, else
   * PUBLIC_URL's); null means the development default, http://localhost:<the port listened on>;
   * empty: passkeys are off (production without PUBLIC_URL or WEBAUTHN_ORIGINS). `rpId` is a
   * suffix of every origin's host (checked here); null when passkeys are off.
   */
  webauthn: { rpId: string | null; rpName: string; origins: string[] | null };
  /** The periodic purge of what is kept only for a while (maintenance/purger.ts). */
  maintenance: {
    /** Audit events older than this many days are purged; 0 keeps them for ever. */
    auditRetentionDays: number;
    /** Minutes between purge rounds; 0 turns the purge off (another instance, or a cron, runs it). */
    purgeIntervalMinutes: number;
  };
  /**
   * The OpenID Connect provider (oidc/): on when an issuer is known (OIDC_ISSUER, else PUBLIC_URL
   * + "/oidc"); null: off, its routes answer 404.
   */
  oidc: {
    issuer: string;
    /** JSON of private RSA JWKs (OIDC_RSA_KEYS_FILE), for clients that verify only RS256 (Moodle); null: none. */
    rsaKeys: string | null;
    /** The initial access token that Dynamic Client Registration (RFC 7591) requires; null: registration off. */
    registrationToken: string | null;
  } | null;
  /** Prometheus metrics: off unless a token or a port is set (never public by default). */
  metrics: { token: string | null; port: number | null; host: string };
  /** Outgoing mail (password reset, email verification). */
  mail: {
    /** smtp:// or smtps:// URL (nodemailer); null: a development outbox (log + GET /admin/outbox). */
    smtpUrl: string | null;
    from: string;
    /** Public base URL of the web app, for links in mails (no trailing slash); null: token only. */
    publicUrl: string | null;
  };
}

export interface RateLimit {
  max: number;
  timeWindowMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const MINUTE = 60_000;
const HOUR = 3_600_000;

/** The process environment with `.env` (if any) underneath it: real variables win. */
export function readEnvironment(cwd = process.cwd()): Env {
  const file = path.join(cwd, '.env');
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  return { ...fromFile, ...process.env };
}

export function loadConfig(env: Env = readEnvironment()): Config {
  const problems: string[] = [];
  const get = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === '' ? undefined : v;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return n;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
      return fallback;
    }
    return raw as T;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = get(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    problems.push(`${name} must be true or false (got "${raw}")`);
    return fallback;
  };

  const nodeEnv = oneOf('NODE_ENV', ['development', 'production', 'test'] as const, 'development');
  const dataDir = path.resolve(get('DATA_DIR') ?? './data');

  const database = parseDatabase(get, int, bool, problems, dataDir);

  const secret = get('JWT_SECRET') ?? null;
  if (secret !== null) {
    // Never echo the value: it may be a real secret that is merely too short.
    const weakness = secretWeakness(secret);
    if (weakness !== null) problems.push(`JWT_SECRET ${weakness} (generate one: openssl rand -base64 48)`);
  }
  let signingKeys = get('JWT_SIGNING_KEYS') ?? null;
  const keysFile = get('JWT_SIGNING_KEYS_FILE');
  let signingKeysFile: string | null = null;
  if (signingKeys === null && keysFile !== undefined) {
    try {
      signingKeys = readFileSync(keysFile, 'utf8');
      signingKeysFile = path.resolve(keysFile);
    } catch {
      problems.push(`JWT_SIGNING_KEYS_FILE: cannot read ${keysFile}`);
    }
  }
  // Explicit JWT_ALG wins; else EdDSA when keys are configured, HS256 when only the old
  // service's JWT_SECRET is, and EdDSA with a generated key when nothing is (not in production).
  const alg = oneOf('JWT_ALG', ['EdDSA', 'HS256'] as const, signingKeys === null && secret !== null ? 'HS256' : 'EdDSA');
  if (nodeEnv === 'production' && ((alg === 'EdDSA' && signingKeys === null) || (alg === 'HS256' && secret === null))) {
    problems.push(
      'JWT_SIGNING_KEYS (Ed25519 keys: npm run keys -- generate) or JWT_SECRET (HS256, at least 32 bytes: ' +
        'openssl rand -base64 48) is required when NODE_ENV=production. Outside production a key is generated in DATA_DIR.',
    );
  }

  const adminEmail = get('ADMIN_EMAIL');
  const adminPassword = env.ADMIN_PASSWORD; // not trimmed: spaces may be part of a password
  let admin: Config['admin'] = null;
  if (adminEmail !== undefined || (adminPassword !== undefined && adminPassword !== '')) {
    if (adminEmail === undefined || adminPassword === undefined || adminPassword === '') {
      problems.push('ADMIN_EMAIL and ADMIN_PASSWORD must be set together');
    } else {
      admin = { email: adminEmail, password: adminPassword, username: get('ADMIN_USERNAME') ?? 'admin' };
    }
  }

  const minLength = int('PASSWORD_MIN_LENGTH', 8, 1, 1024);

  // Badges are signed with the Ed25519 token key that /.well-known/jwks.json publishes. An HS256
  // secret cannot sign them: every door scanner would then hold the secret that mints tokens. So
  // under HS256 badges stay plain by default, and asking for signed ones is an error.
  const qrSigned = bool('QR_SIGNED', alg === 'EdDSA');
  if (qrSigned && alg === 'HS256') {
    problems.push('QR_SIGNED=true needs Ed25519 keys (JWT_ALG=EdDSA, JWT_SIGNING_KEYS); or set QR_SIGNED=false');
  }

  const config: Config = {
    nodeEnv,
    host: get('HOST') ?? '0.0.0.0',
    port: int('PORT', 8000, 0, 65535),
    logLevel: oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    trustProxy: parseTrustProxy(get('TRUST_PROXY'), nodeEnv, problems),
    http: {
      keepAliveTimeoutMs: int('HTTP_KEEP_ALIVE_TIMEOUT_MS', 72_000, 1000, 3_600_000),
      requestTimeoutMs: int('HTTP_REQUEST_TIMEOUT_MS', 60_000, 0, 3_600_000),
      connectionTimeoutMs: int('HTTP_CONNECTION_TIMEOUT_MS', 120_000, 0, 3_600_000),
      shutdownDelayMs: int('SHUTDOWN_DELAY_MS', 0, 0, 120_000),
    },
    database,
    dbTimeoutMs: int('DB_TIMEOUT_MS', 5000, 100, 120_000),
    dataDir,
    jwt: {
      alg,
      secret,
      signingKeys,
      signingKeysFile,
      issuer: get('JWT_ISSUER') ?? null,
      audience: get('JWT_AUDIENCE') ?? null,
      accessTokenTtlSeconds: int('ACCESS_TOKEN_TTL', 900, 60, 7 * 24 * 3600),
      refreshTokenTtlSeconds: int('REFRESH_TOKEN_TTL', 30 * 24 * 3600, 300, 365 * 24 * 3600),
      browserSessionTtlSeconds: int('WEB_SESSION_TTL', 12 * 3600, 300, 30 * 24 * 3600),
    },
    passwords: { minLength, maxBytes: 1024 },
    admin,
    users: { defaultPageSize: 50, maxPageSize: 200 },
    qr: { signed: qrSigned, badgeTtlDays: int('QR_BADGE_TTL_DAYS', 365, 1, 3650) },
    rateLimits: {
      loginPerIp: { max: int('RATE_LIMIT_LOGIN_PER_IP', 300, 1, 10_000_000), timeWindowMs: MINUTE },
      loginPerAccount: { max: int('RATE_LIMIT_LOGIN_PER_ACCOUNT', 20, 1, 10_000_000), timeWindowMs: MINUTE },
      registerPerIp: { max: int('RATE_LIMIT_REGISTER_PER_IP', 300, 1, 10_000_000), timeWindowMs: MINUTE },
      refreshPerIp: { max: int('RATE_LIMIT_REFRESH_PER_IP', 600, 1, 10_000_000), timeWindowMs: MINUTE },
      passwordResetPerIp: { max: int('RATE_LIMIT_RESET_PER_IP', 30, 1, 10_000_000), timeWindowMs: MINUTE },
      passwordResetPerEmail: { max: int('RATE_LIMIT_RESET_PER_EMAIL', 5, 1, 10_000_000), timeWindowMs: HOUR },
      mfaVerifyPerIp: { max: int('RATE_LIMIT_MFA_PER_IP', 300, 1, 10_000_000), timeWindowMs: MINUTE },
      mfaVerifyPerUser: { max: int('RATE_LIMIT_MFA_PER_USER', 10, 1, 10_000_000), timeWindowMs: MINUTE },
      reauthPerUser: { max: int('RATE_LIMIT_REAUTH_PER_USER', 10, 1, 10_000_000), timeWindowMs: MINUTE },
      verifyEmailPerUser: { max: int('RATE_LIMIT_VERIFY_EMAIL_PER_USER', 5, 1, 10_000_000), timeWindowMs: HOUR },
      qrEncodePerUser: { max: int('QR_ENCODE_RATE_LIMIT', 120, 1, 10_000_000), timeWindowMs: MINUTE },
      qrVerifyPerIp: { max: int('RATE_LIMIT_QR_VERIFY_PER_IP', 600, 1, 10_000_000), timeWindowMs: MINUTE },
      qrScanPerUser: { max: int('RATE_LIMIT_QR_SCAN_PER_USER', 60, 1, 10_000_000), timeWindowMs: MINUTE },
      qrLoginPerIp: { max: int('RATE_LIMIT_QR_LOGIN_PER_IP', 300, 1, 10_000_000), timeWindowMs: MINUTE },
      qrLoginApprovePerUser: { max: int('RATE_LIMIT_QR_APPROVE_PER_USER', 30, 1, 10_000_000), timeWindowMs: MINUTE },
      passkeyLoginPerIp: { max: int('RATE_LIMIT_PASSKEY_LOGIN_PER_IP', 300, 1, 10_000_000), timeWindowMs: MINUTE },
      passkeyManagePerUser: { max: int('RATE_LIMIT_PASSKEY_MANAGE_PER_USER', 30, 1, 10_000_000), timeWindowMs: MINUTE },
      oidcTokenPerIp: { max: int('RATE_LIMIT_OIDC_TOKEN_PER_IP', 600, 1, 10_000_000), timeWindowMs: MINUTE },
    },
    redisUrl: parseRedisUrl(get('REDIS_URL'), problems),
    corsOrigins: parseCorsOrigins(get('CORS_ORIGINS'), problems),
    metrics: parseMetrics(get, int, problems),
    maintenance: {
      auditRetentionDays: int('AUDIT_RETENTION_DAYS', 365, 0, 36500),
      purgeIntervalMinutes: int('PURGE_INTERVAL_MINUTES', 15, 0, 1440),
    },
    totp: { issuer: parseTotpIssuer(get('TOTP_ISSUER'), problems) },
    mail: parseMail(get, problems),
    webauthn: { rpId: null, rpName: 'Auth QR Service', origins: null },
    oidc: parseOidc(get, problems),
  };
  config.webauthn = parseWebauthn(get, nodeEnv, config.mail.publicUrl, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

function parseDatabase(
  get: (name: string) => string | undefined,
  int: (name: string, fallback: number, min: number, max: number) => number,
  bool: (name: string, fallback: boolean) => boolean,
  problems: string[],
  dataDir: string,
): DatabaseConfig {
  const url = get('DATABASE_URL');
  const mongoUri = get('MONGO_URI');
  if (url === undefined && mongoUri !== undefined) {
    // The old service's variables: point this service at its database unchanged.
    return { kind: 'mongodb', url: mongoUri, dbName: get('DB_NAME') ?? 'assignmentdb' };
  }
  if (url === undefined) return { kind: 'sqlite', file: path.join(dataDir, 'app.db') };
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length).replace(/^\/\//, '');
    if (file === '') problems.push('DATABASE_URL sqlite: needs a file path, e.g. sqlite:./data/app.db');
    return { kind: 'sqlite', file: file === ':memory:' ? file : path.resolve(file) };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return {
      kind: 'postgres',
      url,
      poolSize: int('PG_POOL_SIZE', 10, 1, 500),
      statementTimeoutMs: int('PG_STATEMENT_TIMEOUT_MS', 5000, 100, 600_000),
      userCache: bool('PG_USER_CACHE', true),
    };
  }
  if (url.startsWith('mongodb://') || url.startsWith('mongodb+srv://')) {
    return { kind: 'mongodb', url, dbName: get('DB_NAME') ?? 'assignmentdb' };
  }
  problems.push('DATABASE_URL must start with sqlite:, postgres://, postgresql://, mongodb:// or mongodb+srv://');
  return { kind: 'sqlite', file: path.join(dataDir, 'app.db') };
}

/**
 * TRUST_PROXY: unset/false, a hop count, or a comma list of proxy addresses and CIDRs (or
 * proxy-addr's names loopback, linklocal, uniquelocal). `true` would take the left-most
 * X-Forwarded-For entry, which the client writes itself: refused in production, where every per-IP
 * limit, session and audit entry would then carry an address of the attacker's choosing.
 */
function parseTrustProxy(raw: string | undefined, nodeEnv: Config['nodeEnv'], problems: string[]): Config['trustProxy'] {
  if (raw === undefined || /^(false|0|no|off)$/i.test(raw)) return false;
  if (/^(true|yes|on)$/i.test(raw)) {
    if (nodeEnv === 'production') {
      problems.push(
        'TRUST_PROXY=true believes any X-Forwarded-For a client writes. Set the number of proxies in front ' +
          '(TRUST_PROXY=1 behind one load balancer; on Render, TRUST_PROXY=2: Cloudflare, then Render\'s proxy) ' +
          'or their addresses/CIDRs (TRUST_PROXY=10.0.0.0/8)',
      );
    }
    return true;
  }
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops < 1 || hops > 10) problems.push(`TRUST_PROXY must be a hop count from 1 to 10 (got "${raw}")`);
    return hops;
  }
  const entries = raw.split(',').map((e) => e.trim()).filter((e) => e !== '');
  const bad = entries.filter((e) => !isProxyAddress(e));
  if (bad.length > 0 || entries.length === 0) {
    problems.push(
      `TRUST_PROXY must be false, a hop count, or a comma list of IP addresses, CIDRs, loopback, linklocal or ` +
        `uniquelocal (not understood: ${bad.join(', ') || raw})`,
    );
  }
  return entries;
}

function isProxyAddress(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address, bits, extra] = entry.split('/');
  if (extra !== undefined || address === undefined) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n >= 0 && n <= (family === 4 ? 32 : 128);
}

/**
 * Placeholder values that the old service and countless tutorials ship: anyone can read them, so
 * anyone could sign an admin token with them. Compared without case and punctuation.
 */
const KNOWN_PLACEHOLDERS = [
  'your-secret-key-change-in-production',
  'your-secret-key',
  'your-256-bit-secret',
  'change-me',
  'changeme',
  'change-this-secret',
  'secret',
  'supersecret',
  'super-secret-key',
  'my-secret-key',
  'jwt-secret',
  'secret-key',
  'default-secret',
  'please-change-me',
].map((p) => p.replace(/[^a-z0-9]/g, ''));

/** Words a random secret does not contain; a secret that does was written by a person. */
const PLACEHOLDER_WORDS = /(secret|change|replace|example|placeholder|password|default|your|insecure|dummy|sample|todo)/i;

/**
 * Why a shared signing secret is unfit, or null. At least 32 bytes; not a known placeholder; not
 * made of words a person types; and about as varied as random text: at least 10 distinct
 * characters and 128 bits by its own character frequencies (a base64 secret from
 * `openssl rand -base64 48` has some 350).
 */
export function secretWeakness(secret: string): string | null {
  const bytes = Buffer.byteLength(secret, 'utf8');
  if (bytes < 32) return `must be at least 32 bytes (it has ${bytes})`;
  const squashed = secret.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (KNOWN_PLACEHOLDERS.includes(squashed)) return 'is a published placeholder value, not a secret';
  if (PLACEHOLDER_WORDS.test(secret)) return 'reads like a placeholder (it contains a word such as "secret" or "change")';
  const counts = new Map<string, number>();
  for (const char of secret) counts.set(char, (counts.get(char) ?? 0) + 1);
  const length = [...secret].length;
  let bitsPerChar = 0;
  for (const n of counts.values()) bitsPerChar -= (n / length) * Math.log2(n / length);
  if (counts.size < 10 || bitsPerChar * length < 128) return 'has too little entropy (too few different characters)';
  const codes = [...secret].map((c) => c.codePointAt(0) as number);
  const steps = codes.slice(1).filter((code, i) => Math.abs(code - (codes[i] as number)) === 1).length;
  if (steps > length / 2) return 'has too little entropy (it runs through the alphabet or the keyboard)';
  return null;
}

function parseRedisUrl(url: string | undefined, problems: string[]): string | null {
  if (url === undefined) return null;
  if (!/^rediss?:\/\/./.test(url)) problems.push('REDIS_URL must start with redis:// or rediss:// (TLS)');
  return url;
}

/** A comma list of exact origins (scheme://host[:port]), or `*` alone. */
function parseCorsOrigins(raw: string | undefined, problems: string[]): string[] {
  if (raw === undefined) return [];
  const entries = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (entries.includes('*')) {
    if (entries.length > 1) problems.push('CORS_ORIGINS: `*` allows every origin and cannot be combined with others');
    return ['*'];
  }
  const origins: string[] = [];
  for (const entry of entries) {
    let url: URL | null = null;
    try {
      url = new URL(entry);
    } catch {
      // reported below
    }
    // Browsers send the bare origin: a path, query or a missing scheme would never match.
    if (url === null || !['http:', 'https:'].includes(url.protocol) || !/^https?:\/\/[^/?#]+\/?$/i.test(entry)) {
      problems.push(`CORS_ORIGINS: "${entry}" is not an origin like https://app.example.com or http://localhost:3000`);
    } else {
      origins.push(url.origin);
    }
  }
  return origins;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function parseMetrics(
  get: (name: string) => string | undefined,
  int: (name: string, fallback: number, min: number, max: number) => number,
  problems: string[],
): Config['metrics'] {
  const token = get('METRICS_TOKEN') ?? null;
  if (token !== null && Buffer.byteLength(token, 'utf8') < 16) {
    problems.push('METRICS_TOKEN must be at least 16 bytes (generate one: openssl rand -hex 24)');
  }
  const port = get('METRICS_PORT') === undefined ? null : int('METRICS_PORT', 9464, 1, 65535);
  return { token, port, host: get('METRICS_HOST') ?? '127.0.0.1' };
}

function parseMail(get: (name: string) => string | undefined, problems: string[]): Config['mail'] {
  const smtpUrl = get('SMTP_URL') ?? null;
  if (smtpUrl !== null && !/^smtps?:\/\/[^/\s]+/.test(smtpUrl)) {
    problems.push('SMTP_URL must look like smtp://user:pass@host:587 or smtps://host:465');
  }
  let publicUrl = get('PUBLIC_URL') ?? null;
  if (publicUrl !== null) {
    const ok = URL.canParse(publicUrl) && ['http:', 'https:'].includes(new URL(publicUrl).protocol);
    if (!ok) problems.push(`PUBLIC_URL must be an http(s) URL, e.g. https://app.example.com (got "${publicUrl}")`);
    publicUrl = publicUrl.replace(/\/+$/, '');
  }
  return { smtpUrl, from: get('MAIL_FROM') ?? 'Auth QR Service <no-reply@localhost>', publicUrl };
}

/**
 * WEBAUTHN_RP_ID, WEBAUTHN_ORIGINS and WEBAUTHN_RP_NAME. The origins default to PUBLIC_URL's, and
 * outside production to http://localhost:<port>; the RP ID to the first origin's host. An RP ID
 * that is not the host, or a parent domain of the host, of every origin is refused: browsers would
 * refuse every ceremony (and a wrong one is not noticed until someone tries a passkey).
 */
function parseWebauthn(
  get: (name: string) => string | undefined,
  nodeEnv: Config['nodeEnv'],
  publicUrl: string | null,
  problems: string[],
): Config['webauthn'] {
  const rpName = get('WEBAUTHN_RP_NAME') ?? 'Auth QR Service';
  const raw = get('WEBAUTHN_ORIGINS');
  let origins: string[] | null;
  if (raw !== undefined) {
    origins = [];
    for (const entry of raw.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
      const url = URL.canParse(entry) ? new URL(entry) : null;
      const local = url !== null && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
      // Browsers offer WebAuthn on https pages only, and on http://localhost for development.
      if (url === null || !/^https?:\/\/[^/?#]+\/?$/i.test(entry) || (url.protocol === 'http:' && !local)) {
        problems.push(`WEBAUTHN_ORIGINS: "${entry}" is not an https origin like https://app.example.com (http only for localhost)`);
      } else {
        origins.push(url.origin);
      }
    }
  } else if (publicUrl !== null && URL.canParse(publicUrl)) {
    origins = [new URL(publicUrl).origin];
  } else {
    origins = nodeEnv === 'production' ? [] : null;
  }
  const hosts = origins === null ? ['localhost'] : origins.map((o) => new URL(o).hostname);
  const rpId = get('WEBAUTHN_RP_ID')?.toLowerCase() ?? hosts[0] ?? null;
  if (rpId !== null && hosts.length === 0) {
    problems.push('WEBAUTHN_RP_ID needs WEBAUTHN_ORIGINS (or PUBLIC_URL): the origins passkeys are used from');
  }
  if (rpId !== null) {
    const strangers = hosts.filter((host) => host !== rpId && !host.endsWith(`.${rpId}`));
    if (strangers.length > 0) {
      problems.push(
        `WEBAUTHN_RP_ID "${rpId}" must be the host, or a parent domain of the host, of every origin (not of ${strangers.join(', ')})`,
      );
    }
  }
  return { rpId: hosts.length === 0 ? null : rpId, rpName, origins };
}

function parseOidc(
  get: (name: string) => string | undefined,
  problems: string[],
): Config['oidc'] {
  const publicUrl = get('PUBLIC_URL')?.replace(/\/+$/, '');
  const issuer = get('OIDC_ISSUER')?.replace(/\/+$/, '') ?? (publicUrl === undefined ? undefined : `${publicUrl}/oidc`);
  const rsaFile = get('OIDC_RSA_KEYS_FILE');
  const registrationToken = get('OIDC_REGISTRATION_TOKEN') ?? null;
  if (issuer === undefined) return null;
  if (!URL.canParse(issuer) || !['http:', 'https:'].includes(new URL(issuer).protocol)) {
    problems.push(`OIDC_ISSUER must be an http(s) URL, e.g. https://app.example.com/oidc (got "${issuer}")`);
    return null;
  }
  // The provider is mounted at /oidc; a PUBLIC_URL with a path (a proxy that serves the service
  // under /app and strips it) makes the issuer https://host/app/oidc, which is right.
  if (!new URL(issuer).pathname.endsWith('/oidc')) problems.push(`OIDC_ISSUER must end in /oidc, where the provider is mounted (got "${issuer}")`);
  let rsaKeys: string | null = null;
  if (rsaFile !== undefined) {
    try {
      rsaKeys = readFileSync(rsaFile, 'utf8');
    } catch {
      problems.push(`OIDC_RSA_KEYS_FILE: cannot read ${rsaFile}`);
    }
  }
  if (registrationToken !== null && registrationToken.length < 32) {
    problems.push('OIDC_REGISTRATION_TOKEN must be at least 32 characters (openssl rand -base64 32)');
  }
  return { issuer, rsaKeys, registrationToken };
}

function parseTotpIssuer(raw: string | undefined, problems: string[]): string {
  // The key URI's label is "issuer:account": a colon in the issuer would split it wrongly.
  if (raw !== undefined && (raw.includes(':') || raw.length > 64)) {
    problems.push(`TOTP_ISSUER must be at most 64 characters with no ':' (got "${raw}")`);
  }
  return raw ?? 'Auth QR Service';
}
