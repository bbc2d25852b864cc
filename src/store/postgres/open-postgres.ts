/**
 * The PostgreSQL store: Kysely's PostgresDialect over a `pg` Pool. The queries are the shared
 * SQL store's; this file only opens the pool and tells which driver errors mean what.
 *
 * TLS comes from the URL's `sslmode`, parsed by pg itself (pg-connection-string 2.x), and pg
 * does NOT read it the way libpq/psql do:
 *   - sslmode=verify-full: TLS, certificate chain checked against Node's CAs (or `sslrootcert=`
 *     a file) and the host name checked. The safe choice for managed PostgreSQL.
 *   - sslmode=require, prefer, verify-ca: today pg treats them as verify-full (and prints a
 *     deprecation warning), so a server with a self-signed or private-CA certificate is refused
 *     unless `sslrootcert=/path/ca.pem` is given.
 *   - sslmode=no-verify: TLS without any certificate check (encrypts, does not authenticate).
 *   - `uselibpqcompat=true&sslmode=require`: libpq's meaning (encrypt, no check).
 *   - sslmode=disable or no sslmode: plain TCP.
 */
import { Kysely, PostgresDialect } from 'kysely';
import { Client, DatabaseError, Pool, type PoolClient } from 'pg';
import { Conflict, type Store, StoreUnavailable } from '../store.js';
import { createSqlStore } from '../sql/sql-store.js';
import type { Tables } from '../sql/tables.js';
import { createUserCache, type UserCache } from '../sql/user-cache.js';
import { startUserChangeFeed, type UserChangeFeed } from './user-changes.js';

export interface PostgresStoreOptions {
  url: string;
  poolSize: number;
  /** Server-side limit on one statement; also bounds how long a connection attempt may take. */
  statementTimeoutMs: number;
  /**
   * Told about errors of idle pooled connections (server restart, network drop). The pool has
   * already discarded the connection and the next query opens a new one, so this is for logs.
   */
  onPoolError?: (error: Error) => void;
  /** Keep users' rows between requests, kept right by LISTEN/NOTIFY (sql/user-cache.ts). Off by default. */
  userCache?: boolean;
  /** Told when the user cache stops (and reads go to the database) and why. */
  onUserCacheDown?: (reason: string) => void;
}

/** Longest wait for a connection (TCP + TLS + auth, or a free pooled client) before a 503. */
const MAX_CONNECT_WAIT_MS = 5000;

/** SQLSTATEs that mean "the database is not answering", not "your query is wrong". */
const UNAVAILABLE_SQLSTATES = new Set([
  '57P01', // admin_shutdown: the server is stopping
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or in recovery
  '57014', // query_canceled: statement_timeout fired
  '53300', // too_many_connections
]);

const UNAVAILABLE_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

// pg reports these with plain Errors and no code, so their message is all there is.
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/, // also "... unexpectedly" and "... due to connection timeout"
  /^timeout exceeded when trying to connect/, // the pool's connectionTimeoutMillis
  /^Query read timeout/, // query_timeout: the server took the query and went silent
  /is not queryable/, // a client that already lost its connection
];

const UNIQUE_CONSTRAINTS: Record<string, Conflict['field']> = {
  users_email_lower_key: 'email',
  users_username_key: 'username',
  users_username_lower_key: 'username',
  users_pkey: 'id',
};

function isUnavailable(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 3) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if (error instanceof DatabaseError) {
    return code !== undefined && (code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code));
  }
  if (code !== undefined && UNAVAILABLE_SOCKET_CODES.has(code)) return true;
  // A missing Unix socket file is how "server down" looks without TCP.
  if (code === 'ENOENT' && (error as NodeJS.ErrnoException).syscall === 'connect') return true;
  if (UNAVAILABLE_MESSAGES.some((re) => re.test(error.message))) return true;
  // Node's happy-eyeballs connect (localhost -> ::1 and 127.0.0.1) fails with an AggregateError.
  if (error instanceof AggregateError && error.errors.some((e) => isUnavailable(e, depth + 1))) return true;
  return isUnavailable(error.cause, depth + 1);
}

export function translatePostgresError(error: unknown): unknown {
  if (error instanceof DatabaseError && error.code === '23505') {
    return new Conflict(UNIQUE_CONSTRAINTS[error.constraint ?? ''] ?? 'unknown');
  }
  if (isUnavailable(error)) {
    return new StoreUnavailable('database unavailable', { cause: error });
  }
  return error;
}

/** Statements that change users' rows, or make changes visible (a commit): the cache forgets. */
const CHANGES_USERS = /^\s*(?:update\s+"users"|delete\s+from\s+"users"|commit\b|end\b)/i;

/**
 * Makes this instance's own writes to `users` empty the cache before they run and once they are
 * done (a commit included), so a change made here is seen here at once; other instances hear of
 * it through the feed. Every statement of the store passes through a pooled client's query().
 */
function forgetUsersOnWrite(client: PoolClient, cache: UserCache): void {
  const query = client.query as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = function (this: PoolClient, ...args: unknown[]) {
    const first = args[0];
    const text = typeof first === 'string' ? first : (first as { text?: unknown } | null)?.text;
    if (typeof text !== 'string' || !CHANGES_USERS.test(text)) return query.apply(this, args);
    cache.clear();
    const result = query.apply(this, args);
    if (result instanceof Promise) return result.finally(() => cache.clear());
    return result;
  };
}

export function openPostgresStore(options: PostgresStoreOptions): Store {
  const connectWaitMs = Math.min(options.statementTimeoutMs, MAX_CONNECT_WAIT_MS);
  const connection = {
    connectionString: options.url,
    // With the server down or unreachable a call must fail fast (503), not queue forever.
    connectionTimeoutMillis: connectWaitMs,
  };
  const pool = new Pool({
    ...connection,
    max: options.poolSize,
    statement_timeout: options.statementTimeoutMs,
    // Backstop for a server that took the query and went silent (network black hole), where
    // statement_timeout cannot fire: the caller gets an error a little after the server's own.
    query_timeout: options.statementTimeoutMs + connectWaitMs,
    // Finds dead connections that sit idle across a network drop.
    keepAlive: true,
    application_name: 'auth-qr-service',
  });
  const onPoolError = options.onPoolError ?? (() => undefined);
  // An idle client losing its connection emits on the pool; unhandled, that would crash the
  // process. The pool has already dropped it and the next query reconnects.
  pool.on('error', (error) => onPoolError(error));
  // A checked-out client that loses its connection emits 'error' on itself, where pg-pool listens
  // only while it is idle. The query in flight already rejects with the same error (and becomes
  // StoreUnavailable); this listener only keeps the event from being an uncaught exception.
  const userCache = options.userCache ? createUserCache() : undefined;
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    if (userCache !== undefined) forgetUsersOnWrite(client, userCache);
  });

  let feed: UserChangeFeed | undefined;
  if (userCache !== undefined) {
    feed = startUserChangeFeed({
      newClient: () => new Client({ ...connection, keepAlive: true, application_name: 'auth-qr-service (user changes)' }),
      notify: async (channel, payload) => {
        await pool.query('select pg_notify($1, $2)', [channel, payload]);
      },
      onChange: (id) => userCache.forget(id),
      onLive: (live) => userCache.setLive(live),
      onDown: (reason) => options.onUserCacheDown?.(reason),
    });
  }

  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  return createSqlStore({
    dialect: 'postgres',
    db,
    translateError: translatePostgresError,
    encodeDate: (date) => date,
    encodeBool: (value) => value,
    userCache,
    userChanges: feed,
    onClose: async () => {
      await feed?.close();
    },
  });
}
