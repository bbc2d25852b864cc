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

describe('SQLite migrations', () => {
  it('run as one transaction: one that fails leaves the file as it was, with no table of the earlier ones', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'store-sqlite-'));
    const file = path.join(dir, 'app.db');
    try {
      // An index with the name migration 0005 gives its own: 0001-0004 succeed, then 0005 fails.
      const before = new Database(file);
      before.exec('create table squatter (x integer); create index sessions_expires_idx on squatter (x);');
      before.close();
      const store = openSqliteStore(file);
      await assert.rejects(store.migrate(), /migration 0005_purge_indexes failed/);
      await store.close();
      const after = new Database(file, { readonly: true });
      const tables = after.prepare("select name from sqlite_master where type = 'table' order by name").all() as { name: string }[];
      const recorded = after.prepare('select count(*) as n from kysely_migration').get() as { n: number };
      after.close();
      // Kysely's own bookkeeping tables are made before the migrations' transaction starts.
      assert.deepEqual(tables.map((t) => t.name).filter((t) => !t.startsWith('kysely_')), ['squatter'], 'a failed migration left tables behind');
      assert.equal(recorded.n, 0, 'migrations recorded as done');
    } finally {
      await rm(dir, { recursive: true, force: true });
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
