/** The embedded default store: SQLite through better-sqlite3 (WAL mode) and Kysely. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { type DialectAdapter, Kysely, SqliteAdapter, SqliteDialect } from 'kysely';
import { Conflict, type Store, StoreUnavailable } from '../store.js';
import { createSqlStore, type UserRow } from '../sql/sql-store.js';
import type { Tables } from '../sql/tables.js';
import { createUserRowCache } from './user-row-cache.js';

/** The database cannot do the work right now (busy past busy_timeout, disk trouble): a 503. */
const UNAVAILABLE_CODES = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_CANTOPEN', 'SQLITE_FULL', 'SQLITE_READONLY'];

function translateError(error: unknown): unknown {
  if (error instanceof Database.SqliteError && UNAVAILABLE_CODES.some((c) => error.code.startsWith(c))) {
    return new StoreUnavailable(`SQLite: ${error.code}`, { cause: error });
  }
  if (error instanceof Database.SqliteError && error.code.startsWith('SQLITE_CONSTRAINT')) {
    const m = error.message;
    if (m.includes('email_lower')) return new Conflict('email');
    if (m.includes('username')) return new Conflict('username');
    if (m.includes('users.id')) return new Conflict('id');
    return new Conflict('unknown');
  }
  return error;
}

/**
 * Statements that cannot change a user's row: reads, transaction starts and commits, and writes
 * to any other table (no table's write reaches `users`: no triggers, and `users` references
 * nothing). Everything else empties the user cache before it runs: writes to `users`, a rollback
 * (a lookup between a transaction's statements may have kept a row the rollback undoes), DDL,
 * pragmas, and any statement not recognised here. Before, every write emptied it, so each
 * login's session insert or check-in's insert made the next requests read their users again.
 */
const KEEPS_USERS_RE = /^\s*(?:select\s|begin\b|commit\b|end\b|savepoint\s|release\s|(?:insert\s+into|update|delete\s+from)\s+"(?!users")\w+"\s)/i;

/** Whether running `sql` may change a row of `users` (the user cache must be emptied first). */
export const mayChangeUsers = (sql: string): boolean => !KEEPS_USERS_RE.test(sql);

/** Distinct SQL texts kept prepared; the service issues a few dozen. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely's SQLite driver prepares every statement anew (about 60% of a point lookup's cost).
 * The queries are parameterised, so their texts repeat: keep them prepared. Safe because Kysely
 * runs one statement at a time on this connection and only calls all() / run() (never
 * iterate(), which would hold a statement busy).
 */
function withStatementCache(database: Database.Database, beforeWrite: () => void): Database.Database {
  const cache = new Map<string, Database.Statement>();
  return new Proxy(database, {
    get(target, property, receiver) {
      if (property !== 'prepare') {
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return (sql: string) => {
        // Kysely runs each statement right after preparing it, synchronously: this is before it runs.
        if (mayChangeUsers(sql)) beforeWrite();
        let statement = cache.get(sql);
        if (statement === undefined) {
          statement = target.prepare(sql);
          if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
          cache.set(sql, statement);
        }
        return statement;
      };
    },
  });
}

/**
 * The per-request user lookup, read as an array (raw mode) and made into a row here: a quarter
 * cheaper than better-sqlite3 building the object column by column (bench/: `me`).
 */
const USER_BY_ID_SQL =
  'select id, username, email, password_hash, full_name, role, created_at, qr_code, qr_issued_at, disabled, ' +
  'email_verified, token_version, totp_secret, totp_enabled, totp_last_step, revoked_sessions ' +
  'from users where id = ?';

function userRowOf(values: unknown[]): UserRow {
  const [id, username, email, passwordHash, fullName, role, createdAt, qrCode, qrIssuedAt] = values;
  const [, , , , , , , , , disabled, emailVerified, tokenVersion, totpSecret, totpEnabled, totpLastStep, revokedSessions] = values;
  return {
    id: id as string,
    username: username as string,
    email: email as string,
    password_hash: passwordHash as string,
    full_name: fullName as string | null,
    role: role as string,
    created_at: createdAt as string,
    qr_code: qrCode as string | null,
    qr_issued_at: qrIssuedAt as string | null,
    disabled: disabled as number,
    email_verified: emailVerified as number,
    token_version: tokenVersion as number,
    totp_secret: totpSecret as string | null,
    totp_enabled: totpEnabled as number,
    totp_last_step: totpLastStep as number,
    revoked_sessions: revokedSessions as string | null,
  };
}

export function openSqliteStore(file: string): Store {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  const database = new Database(file);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('busy_timeout = 5000');
  database.pragma('foreign_keys = ON');
  const users = createUserRowCache(database);
  const db = new Kysely<Tables>({ dialect: new TransactionalDdlSqliteDialect({ database: withStatementCache(database, users.invalidate) }) });
  // Prepared on first use: the table exists only once the migrations have run.
  let userById: Database.Statement<[string], unknown[]> | undefined;
  const loadUserRow = (id: string) => {
    userById ??= database.prepare<[string], unknown[]>(USER_BY_ID_SQL).raw(true);
    const values = userById.get(id);
    return values === undefined ? undefined : userRowOf(values);
  };
  return createSqlStore({
    dialect: 'sqlite',
    db,
    translateError,
    encodeDate: (date) => date.toISOString(),
    encodeBool: (value) => (value ? 1 : 0),
    // Outside Kysely's connection lock, so it may run between the statements of a transaction:
    // the store's transactions (sessions, refresh tokens) never write users.
    userRowById: (id) => users.get(id, () => loadUserRow(id)),
  });
}

/**
 * SQLite runs DDL inside transactions, but Kysely's SQLite adapter says it does not, so its
 * Migrator ran every statement of every migration in a commit of its own: a crash or a failing
 * migration half-way left a file with some tables and not others, recorded as neither done nor
 * undone. Saying it does makes all pending migrations one transaction (as on PostgreSQL), which
 * either happens or leaves the file as it was. (A migration that must run outside a transaction,
 * such as one switching PRAGMA foreign_keys, needs its own path.)
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class TransactionalDdlSqliteDialect extends SqliteDialect {
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}
