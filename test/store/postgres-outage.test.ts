/**
 * A real PostgreSQL server goes away and comes back: the store must say StoreUnavailable in
 * bounded time (no hang), write nothing by halves, and work again by itself, with the same
 * store object and no reopen. The test owns its server, so it can stop and start it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openPostgresStore } from '../../src/store/postgres/open-postgres.js';
import { type Store, StoreUnavailable } from '../../src/store/store.js';
import { type PgCluster, createPgCluster } from '../helpers/pg-cluster.js';
import { aUser } from './contract.js';

const binDir = process.env.TEST_POSTGRES_BIN;

/** A hang guard, not a speed threshold: a call that has not settled by then is stuck. */
const HANG_GUARD_MS = 15_000;

/** Resolves with how `promise` settled and how long it took; fails if it took past the guard. */
async function settled<T>(promise: Promise<T>): Promise<{ result: PromiseSettledResult<T>; ms: number }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled after ${HANG_GUARD_MS} ms: hung`)), HANG_GUARD_MS);
  });
  try {
    const [result] = await Promise.race([Promise.allSettled([promise]), guard]);
    return { result: result as PromiseSettledResult<T>, ms: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
  }
}

async function assertUnavailable(what: string, promise: Promise<unknown>): Promise<number> {
  const { result, ms } = await settled(promise);
  assert.equal(result.status, 'rejected', `${what} should have failed with the server down`);
  assert.ok(
    result.reason instanceof StoreUnavailable,
    `${what}: expected StoreUnavailable, got ${String(result.reason)}`,
  );
  return ms;
}

if (binDir === undefined || binDir === '') {
  console.log('PostgreSQL outage: skipped (set TEST_POSTGRES_BIN)');
  describe('PostgreSQL outage', () => {
    it('survives a real server stopping and starting', { skip: 'set TEST_POSTGRES_BIN' }, () => undefined);
  });
} else {
  describe('PostgreSQL outage', () => {
    let cluster: PgCluster | undefined;
    let store: Store | undefined;

    before(async () => {
      cluster = await createPgCluster(binDir);
      await cluster.start();
    });

    after(async () => {
      await store?.close().catch(() => undefined);
      await cluster?.destroy();
    });

    it('fails fast while the server is down, writes nothing by halves, and recovers by itself', async (t) => {
      assert.ok(cluster);
      const s = openPostgresStore({ url: cluster.url, poolSize: 4, statementTimeoutMs: 3000 });
      store = s;
      await s.migrate();
      const existing = await s.insertUser(aUser());
      // Fill the pool with idle connections, which the server's shutdown will kill under it:
      // their errors must be absorbed, not crash the process.
      await Promise.all(Array.from({ length: 4 }, () => s.findUserById(existing.id)));

      // Calls keep coming while the server goes down: each must settle, as a result or as
      // StoreUnavailable, none may hang or fail otherwise.
      let stopping = true;
      const traffic = (async () => {
        const outcomes = { ok: 0, unavailable: 0 };
        while (stopping) {
          const { result } = await settled(s.findUserById(existing.id));
          if (result.status === 'fulfilled') outcomes.ok += 1;
          else if (result.reason instanceof StoreUnavailable) outcomes.unavailable += 1;
          else throw result.reason;
        }
        return outcomes;
      })();
      await cluster.stop();
      stopping = false;
      const outcomes = await traffic;
      t.diagnostic(`during shutdown: ${outcomes.ok} answered, ${outcomes.unavailable} StoreUnavailable`);

      const attempted = aUser();
      const timings = {
        findUserById: await assertUnavailable('findUserById', s.findUserById(existing.id)),
        insertUser: await assertUnavailable('insertUser', s.insertUser(attempted)),
        updateUser: await assertUnavailable('updateUser', s.updateUser(existing.id, { fullName: 'changed' })),
        deleteUser: await assertUnavailable('deleteUser', s.deleteUser(existing.id)),
        listUsers: await assertUnavailable('listUsers', s.listUsers({ limit: 10 })),
        ping: await assertUnavailable('ping', s.ping()),
      };
      t.diagnostic(`server down, ms to StoreUnavailable: ${JSON.stringify(timings)}`);

      await cluster.start();
      // The same store object, never reopened: the first call after the restart must work.
      await s.ping();
      assert.deepEqual(await s.findUserById(existing.id), existing, 'the update and delete did not happen');
      assert.equal(await s.findUserById(attempted.id), null, 'the insert did not happen');
      assert.equal(await s.findUserByEmail(attempted.email), null);
      assert.equal(await s.countUsers(), 1);
      const later = await s.insertUser(attempted);
      assert.equal(later.id, attempted.id);
      assert.equal(await s.countUsers(), 2);
    });
  });
}
