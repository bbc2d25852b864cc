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
import { mayChangeUsers, openSqliteStore } from '../../src/store/sqlite/open-sqlite.js';
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

describe('which statements empty the SQLite user cache', () => {
  it('writes to users, rollbacks, DDL and anything unknown do; reads, commits and other tables’ writes do not', () => {
    const empties = [
      'update "users" set "role" = ? where "id" = ?',
      'delete from "users" where "id" = ?',
      'insert into "users" ("id") values (?)',
      'rollback',
      'ROLLBACK TO SAVEPOINT sp1',
      'create table "x" ("id" integer)',
      'pragma foreign_keys = ON',
      'with "t" as (select 1) update "users" set "role" = ?',
      'update users set disabled = 1',
      'replace into "users" ("id") values (?)',
    ];
    const keeps = [
      'select "id" from "users" where "id" = ?',
      'begin',
      'commit',
      'insert into "checkins" ("session_id") values (?)',
      'update "sessions" set "revoked_at" = ? where "id" = ?',
      'delete from "one_time_tokens" where "expires_at" < ?',
      'insert into "users_archive" ("id") values (?)',
    ];
    for (const sql of empties) assert.equal(mayChangeUsers(sql), true, sql);
    for (const sql of keeps) assert.equal(mayChangeUsers(sql), false, sql);
  });

  it('keeps cached users across writes to other tables (a login’s audit event, a check-in)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'authqr-usercache-'));
    const file = path.join(dir, 'app.db');
    const store = openSqliteStore(file);
    const other = new Database(file);
    try {
      await store.migrate();
      const user = await store.insertUser(aUser());
      await nextTurn();
      assert.equal((await store.findUserById(user.id))?.role, user.role);
      // Within one event-loop turn the cache answers without reading data_version again, so a
      // commit by another connection shows in this turn only if a statement emptied the cache.
      other.prepare('update users set role = ? where id = ?').run('teacher', user.id);
      await store.audit.insert({ id: '6916d7000000000000000009', at: new Date(), type: 'test.event', userId: user.id, actorId: null, ip: null, userAgent: null, detail: null });
      assert.equal((await store.findUserById(user.id))?.role, user.role, 'the audit insert kept the cached row');
      await store.bumpTokenVersion(user.id);
      assert.equal((await store.findUserById(user.id))?.role, 'teacher', 'a write to users empties the cache');
    } finally {
      other.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
