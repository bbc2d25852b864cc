/**
 * Configuration: the ONLY module that reads the environment (plus `.env` when present).
 * Everything is validated at start-up, with one message per problem, and frozen.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';

export type DatabaseConfig =
  | { kind: 'sqlite'; file: string }
  | { kind: 'postgres'; url: string; poolSize: number; statementTimeoutMs: number }
  | { kind: 'mongodb'; url: string; dbName: string };

export interface Config {
  nodeEnv: 'development' | 'production' | 'test';
  host: string;
  port: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Trust X-Forwarded-* from a proxy in front (Render, a load balancer). */
  trustProxy: boolean;
  database: DatabaseConfig;
  /** How long a database call may take before the request answers 503. */
  dbTimeoutMs: number;
  /** Folder for generated state (the SQLite file by default, a generated signing key). */
  dataDir: string;
  jwt: {
    /** HS256 secret (JWT_SECRET); null means "generate one in dataDir" (refused in production). */
    secret: string | null;
    accessTokenTtlSeconds: number;
  };
  passwords: { minLength: number; maxBytes: number };
  /** Bootstrap admin created at start-up when no user has this email. */
  admin: { email: string; password: string; username: string } | null;
  users: { defaultPageSize: number; maxPageSize: number };
  qr: { encodeRateLimit: { max: number; timeWindowMs: number } };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

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

  const database = parseDatabase(get, int, problems, dataDir);

  const secret = get('JWT_SECRET') ?? null;
  if (secret !== null && Buffer.byteLength(secret, 'utf8') < 32) {
    problems.push('JWT_SECRET must be at least 32 bytes (generate one: openssl rand -base64 48)');
  }
  if (secret === null && nodeEnv === 'production') {
    problems.push(
      'JWT_SECRET is required when NODE_ENV=production (at least 32 bytes; generate one: openssl rand -base64 48). ' +
        'Outside production a key is generated in DATA_DIR.',
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

  const config: Config = {
    nodeEnv,
    host: get('HOST') ?? '0.0.0.0',
    port: int('PORT', 8000, 0, 65535),
    logLevel: oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    trustProxy: bool('TRUST_PROXY', false),
    database,
    dbTimeoutMs: int('DB_TIMEOUT_MS', 5000, 100, 120_000),
    dataDir,
    jwt: { secret, accessTokenTtlSeconds: int('ACCESS_TOKEN_TTL', 3600, 60, 7 * 24 * 3600) },
    passwords: { minLength, maxBytes: 1024 },
    admin,
    users: { defaultPageSize: 50, maxPageSize: 200 },
    qr: { encodeRateLimit: { max: int('QR_ENCODE_RATE_LIMIT', 120, 1, 1_000_000), timeWindowMs: 60_000 } },
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

function parseDatabase(
  get: (name: string) => string | undefined,
  int: (name: string, fallback: number, min: number, max: number) => number,
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
    };
  }
  if (url.startsWith('mongodb://') || url.startsWith('mongodb+srv://')) {
    return { kind: 'mongodb', url, dbName: get('DB_NAME') ?? 'assignmentdb' };
  }
  problems.push('DATABASE_URL must start with sqlite:, postgres://, postgresql://, mongodb:// or mongodb+srv://');
  return { kind: 'sqlite', file: path.join(dataDir, 'app.db') };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
