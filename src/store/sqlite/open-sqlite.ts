/** The embedded default store: SQLite through better-sqlite3 (WAL mode) and Kysely. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { Conflict, type Store, StoreUnavailable } from '../store.js';
import { createSqlStore } from '../sql/sql-store.js';
import type { Tables } from '../sql/tables.js';

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

/** Distinct SQL texts kept prepared; the service issues a few dozen. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely's SQLite driver prepares every statement anew (about 60% of a point lookup's cost).
 * The queries are parameterised, so their texts repeat: keep them prepared. Safe because Kysely
 * runs one statement at a time on this connection and only calls all() / run() (never
 * iterate(), which would hold a statement busy).
 */
function withStatementCache(database: Database.Database): Database.Database {
  const cache = new Map<string, Database.Statement>();
  return new Proxy(database, {
    get(target, property, receiver) {
      if (property !== 'prepare') {
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return (sql: string) => {
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

export function openSqliteStore(file: string): Store {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  const database = new Database(file);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('busy_timeout = 5000');
  database.pragma('foreign_keys = ON');
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) });
  return createSqlStore({
    dialect: 'sqlite',
    db,
    translateError,
    encodeDate: (date) => date.toISOString(),
    encodeBool: (value) => (value ? 1 : 0),
  });
}
