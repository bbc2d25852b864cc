/**
 * The user cache's own rules (sql/user-cache.ts), without a database: what it keeps, when it keeps
 * nothing, and that a read in flight across a forgetting is not kept.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UserRow } from '../../src/store/sql/sql-store.js';
import { createUserCache } from '../../src/store/sql/user-cache.js';

const row = (id: string, fullName: string) => ({ id, full_name: fullName }) as unknown as UserRow;
const ID = 'aaaaaaaaaaaaaaaaaaaaaaaa';

function counting(fullName: () => string) {
  let loads = 0;
  return {
    load: async () => {
      loads++;
      return row(ID, fullName());
    },
    get loads() {
      return loads;
    },
  };
}

describe('the user cache', () => {
  it('keeps nothing until the change feed is live, then keeps rows', async () => {
    const cache = createUserCache();
    const source = counting(() => 'Ada');
    await cache.get(ID, source.load);
    await cache.get(ID, source.load);
    assert.equal(source.loads, 2, 'not live: every read loads');
    cache.setLive(true);
    await cache.get(ID, source.load);
    await cache.get(ID, source.load);
    assert.equal(source.loads, 3, 'live: the second read is a hit');
    cache.setLive(false);
    await cache.get(ID, source.load);
    assert.equal(source.loads, 4, 'the feed went down: everything forgotten, nothing used');
  });

  it('forgets one row, or every row', async () => {
    const cache = createUserCache();
    cache.setLive(true);
    let name = 'Ada';
    const source = counting(() => name);
    await cache.get(ID, source.load);
    name = 'Grace';
    assert.equal((await cache.get(ID, source.load))?.full_name, 'Ada');
    cache.forget(ID);
    assert.equal((await cache.get(ID, source.load))?.full_name, 'Grace');
    name = 'Hedy';
    cache.clear();
    assert.equal((await cache.get(ID, source.load))?.full_name, 'Hedy');
  });

  it('does not keep a read that was in flight while anything was forgotten (it may predate the change)', async () => {
    const cache = createUserCache();
    cache.setLive(true);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = cache.get(ID, async () => {
      await gate;
      return row(ID, 'before the change');
    });
    cache.forget(ID);
    release();
    assert.equal((await slow)?.full_name, 'before the change', 'the caller gets what it read');
    assert.equal((await cache.get(ID, async () => row(ID, 'after the change')))?.full_name, 'after the change', 'but it was not kept');
  });

  it('does not keep misses, lets entries expire, and stays bounded', async () => {
    let now = 0;
    const cache = createUserCache({ maxEntries: 3, maxAgeMs: 1000, now: () => now });
    cache.setLive(true);
    assert.equal(await cache.get(ID, async () => undefined), undefined);
    assert.equal(cache.size, 0);
    const source = counting(() => 'Ada');
    await cache.get(ID, source.load);
    now = 999;
    await cache.get(ID, source.load);
    assert.equal(source.loads, 1);
    now = 1000;
    await cache.get(ID, source.load);
    assert.equal(source.loads, 2, 'expired after maxAgeMs');
    for (const id of ['b', 'c', 'd', 'e']) await cache.get(id.repeat(24), async () => row(id.repeat(24), id));
    assert.ok(cache.size <= 3);
  });
});
