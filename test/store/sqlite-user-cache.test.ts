/**
 * The SQLite store keeps users' rows between lookups (store/sqlite/user-row-cache.ts). These
 * tests change a cached user every way the service and its operators can and require the next
 * lookup to see it (another process's commit: the next lookup of a later event-loop turn): a
 * stale row would let a disabled or logged-out user in.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite.js';
import type { Store } from '../../src/store/store.js';
import { aUser } from './contract.js';

/** Lets the current event-loop turn end (the cache reads data_version once per turn). */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('SQLite user lookups stay current while cached', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'authqr-usercache-'));
  const file = path.join(dir, 'app.db');
  let store: Store;
  /** A second connection, as the admin CLI or another server process would have. */
  let other: Database.Database;

  before(async () => {
    store = openSqliteStore(file);
    await store.migrate();
    other = new Database(file);
    other.pragma('busy_timeout = 5000');
  });
  after(async () => {
    other.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function cachedUser() {
    const user = await store.insertUser(aUser());
    assert.equal((await store.findUserById(user.id))?.disabled, false);
    assert.equal((await store.findUserById(user.id))?.disabled, false, 'a second lookup (from the cache)');
    return user;
  }

  it('sees the service’s own writes at once: update, token version, revoked sessions, delete', async () => {
    const user = await cachedUser();
    await store.updateUser(user.id, { disabled: true, role: 'teacher' });
    const updated = await store.findUserById(user.id);
    assert.equal(updated?.disabled, true);
    assert.equal(updated?.role, 'teacher');
    const version = await store.bumpTokenVersion(user.id);
    assert.equal((await store.findUserById(user.id))?.tokenVersion, version);
    const revoked = { sessionId: '6916d7000000000000000001', until: new Date(Date.now() + 60_000) };
    await store.addRevokedSession(user.id, revoked, new Date());
    assert.deepEqual((await store.findUserById(user.id))?.revokedSessions, [revoked]);
    assert.equal(await store.deleteUser(user.id), true);
    assert.equal(await store.findUserById(user.id), null);
  });

  it('sees another connection’s commits from the next event-loop turn (the admin CLI, a second process)', async () => {
    const user = await cachedUser();
    await nextTurn();
    other.prepare('update users set disabled = 1, token_version = token_version + 1 where id = ?').run(user.id);
    await nextTurn();
    const seen = await store.findUserById(user.id);
    assert.equal(seen?.disabled, true);
    assert.equal(seen?.tokenVersion, user.tokenVersion + 1);
    other.prepare('delete from users where id = ?').run(user.id);
    await nextTurn();
    assert.equal(await store.findUserById(user.id), null);
  });

  it('sees them across turns even when every turn has lookups', async () => {
    const user = await cachedUser();
    // A lookup in each of several turns; the commit lands between two of them.
    for (let turn = 0; turn < 5; turn++) {
      if (turn === 2) other.prepare('update users set role = ? where id = ?').run('teacher', user.id);
      await nextTurn();
      const role = (await store.findUserById(user.id))?.role;
      assert.equal(role, turn < 2 ? user.role : 'teacher', `turn ${turn}`);
    }
  });

  it('hands out a fresh object each time: a caller changing its copy changes nothing else', async () => {
    const user = await cachedUser();
    const first = await store.findUserById(user.id);
    assert.ok(first);
    first.role = 'admin';
    first.createdAt.setFullYear(1999);
    const second = await store.findUserById(user.id);
    assert.equal(second?.role, user.role);
    assert.equal(second?.createdAt.toISOString(), user.createdAt.toISOString());
  });
});
