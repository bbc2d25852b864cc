/**
 * Migration 0006_passkeys on a database that main's later migrations (0009_users_change_notify)
 * reached first: the feature branches merge unordered, and the migrator must still add the table
 * (allowUnorderedMigrations), with a user's passkeys going when the user does.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite.js';
import { aPasskey } from './contract-passkeys.js';
import { aUser } from './contract.js';

it('adds the passkeys table to a database migrated past 0006 without it', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'store-passkey-migration-'));
  const file = path.join(dir, 'app.db');
  try {
    const first = openSqliteStore(file);
    await first.migrate();
    await first.close();
    // As main left it: every migration but this branch's.
    const db = new Database(file);
    db.exec(`drop table passkeys; delete from kysely_migration where name = '0006_passkeys'`);
    assert.notEqual(db.prepare(`select name from kysely_migration where name = '0009_users_change_notify'`).get(), undefined);
    db.close();

    const store = openSqliteStore(file);
    try {
      await store.migrate();
      const user = await store.insertUser(aUser());
      const passkey = aPasskey(user.id);
      await store.passkeys.insert(passkey);
      assert.equal((await store.passkeys.findById(passkey.id))?.userId, user.id);
      await store.deleteUser(user.id);
      assert.equal(await store.passkeys.findById(passkey.id), null);
    } finally {
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
