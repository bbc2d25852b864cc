import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { migrationProvider } from '../../src/store/sql/migrations.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite.js';
import type { Store } from '../../src/store/store.js';
import { storeContract, withCleanup } from './contract.js';

async function openTempSqlite(): Promise<{ store: Store; file: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'store-sqlite-'));
  const file = path.join(dir, 'app.db');
  const store = openSqliteStore(file);
  await store.migrate();
  return { store: withCleanup(store, () => rm(dir, { recursive: true, force: true })), file };
}

storeContract('SQLite', async () => (await openTempSqlite()).store);

describe('SQLite store', () => {
  it('keeps its file in WAL mode, so readers do not block the writer', async () => {
    const { store, file } = await openTempSqlite();
    try {
      // journal_mode=WAL is recorded in the file itself: a second, independent connection sees it.
      const probe = new Database(file, { readonly: true });
      try {
        assert.equal(probe.pragma('journal_mode', { simple: true }), 'wal');
      } finally {
        probe.close();
      }
    } finally {
      await store.close();
    }
  });
});

describe('SQLite migration 0003 (usernames unique regardless of case)', () => {
  it('stops with both names when two existing usernames differ only in case, and keeps them as they were', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'store-sqlite-migrate-'));
    const file = path.join(dir, 'app.db');
    try {
      // A database as the service left it before 0003, holding two users the old rules allowed.
      const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new Database(file) }) });
      await new Migrator({ db, provider: migrationProvider('sqlite') }).migrateTo('0002_auth');
      const insert = (id: string, username: string) =>
        sql`insert into users (id, username, email, email_lower, password_hash, role, created_at)
            values (${id}, ${username}, ${`${id}@example.com`}, ${`${id}@example.com`}, 'x', 'student', '2024-01-01T00:00:00.000Z')`.execute(db);
      await insert('0000000000000000000000a1', 'Ann');
      await insert('0000000000000000000000a2', 'ann');
      await db.destroy();

      const store = openSqliteStore(file);
      try {
        await assert.rejects(store.migrate(), (error: Error) => {
          const text = `${error.message} ${String((error.cause as Error | undefined)?.message ?? '')}`;
          assert.match(text, /"Ann" and "ann"/);
          return true;
        });
      } finally {
        await store.close();
      }
      const check = new Database(file, { readonly: true });
      try {
        const names = check.prepare('select username from users order by id').pluck().all();
        assert.deepEqual(names, ['Ann', 'ann'], 'nothing renamed or lost');
      } finally {
        check.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
