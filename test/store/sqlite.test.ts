import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
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
