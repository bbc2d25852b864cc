/** The embedded default store: SQLite through better-sqlite3 (WAL mode) and Kysely. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { Conflict, type Store } from '../store.js';
import { createSqlStore } from '../sql/sql-store.js';
import type { Tables } from '../sql/tables.js';

function translateError(error: unknown): unknown {
  if (error instanceof Database.SqliteError && error.code.startsWith('SQLITE_CONSTRAINT')) {
    const m = error.message;
    if (m.includes('email_lower')) return new Conflict('email');
    if (m.includes('username')) return new Conflict('username');
    if (m.includes('users.id')) return new Conflict('id');
    return new Conflict('unknown');
  }
  return error;
}

export function openSqliteStore(file: string): Store {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  const database = new Database(file);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('busy_timeout = 5000');
  database.pragma('foreign_keys = ON');
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database }) });
  return createSqlStore({
    dialect: 'sqlite',
    db,
    translateError,
    encodeDate: (date) => date.toISOString(),
  });
}
