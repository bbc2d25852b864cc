/**
 * The OpenID Connect provider's records (OidcStore), part of the one contract every Store
 * passes: what oidc/oidc-adapter.ts relies on for grants, codes, sessions and clients to be
 * shared by every instance.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { OidcRecord, Store } from '../../src/store/store.js';

const at = (iso: string) => new Date(iso);

function aRecord(overrides: Partial<Omit<OidcRecord, 'consumedAt'>> = {}): Omit<OidcRecord, 'consumedAt'> {
  return {
    model: 'AuthorizationCode',
    id: 'code-1',
    payload: JSON.stringify({ kind: 'AuthorizationCode', jti: 'code-1' }),
    grantId: 'grant-1',
    userCode: null,
    uid: null,
    expiresAt: at('2030-01-15T00:10:00.000Z'),
    ...overrides,
  };
}

export function oidcContract(name: string, open: () => Promise<Store>): void {
  describe(`Store contract (OpenID Connect records): ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });
    const now = at('2030-01-15T00:00:00.000Z');

    it('round-trips a record, keyed by model and id', async () => {
      await store.oidc.upsert(aRecord());
      await store.oidc.upsert(aRecord({ model: 'AccessToken', payload: '{"kind":"AccessToken"}' }));
      const found = await store.oidc.find('AuthorizationCode', 'code-1', now);
      assert.deepEqual(found, { ...aRecord(), consumedAt: null });
      assert.equal((await store.oidc.find('AccessToken', 'code-1', now))?.payload, '{"kind":"AccessToken"}');
      assert.equal(await store.oidc.find('AuthorizationCode', 'other', now), null);
    });

    it('replaces a record on a second upsert', async () => {
      await store.oidc.upsert(aRecord());
      await store.oidc.upsert(aRecord({ payload: '{"v":2}', expiresAt: null }));
      const found = await store.oidc.find('AuthorizationCode', 'code-1', now);
      assert.equal(found?.payload, '{"v":2}');
      assert.equal(found?.expiresAt, null);
    });

    it('never returns an expired record', async () => {
      await store.oidc.upsert(aRecord({ expiresAt: at('2030-01-14T23:59:59.000Z') }));
      assert.equal(await store.oidc.find('AuthorizationCode', 'code-1', now), null);
    });

    it('consumes a record once: the second attempt is refused, and find shows when', async () => {
      await store.oidc.upsert(aRecord());
      assert.equal(await store.oidc.consume('AuthorizationCode', 'code-1', now), true);
      assert.equal(await store.oidc.consume('AuthorizationCode', 'code-1', now), false);
      assert.deepEqual((await store.oidc.find('AuthorizationCode', 'code-1', now))?.consumedAt, now);
      assert.equal(await store.oidc.consume('AuthorizationCode', 'missing', now), false);
    });

    it('lets one of many concurrent consumers win', async () => {
      await store.oidc.upsert(aRecord());
      const results = await Promise.all(Array.from({ length: 10 }, () => store.oidc.consume('AuthorizationCode', 'code-1', now)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    it('finds by uid and by user code within the model', async () => {
      await store.oidc.upsert(aRecord({ model: 'Session', id: 's1', uid: 'uid-1', grantId: null }));
      await store.oidc.upsert(aRecord({ model: 'DeviceCode', id: 'd1', userCode: 'ABCD-EFGH' }));
      assert.equal((await store.oidc.findByUid('Session', 'uid-1', now))?.id, 's1');
      assert.equal(await store.oidc.findByUid('Grant', 'uid-1', now), null);
      assert.equal((await store.oidc.findByUserCode('DeviceCode', 'ABCD-EFGH', now))?.id, 'd1');
      assert.equal(await store.oidc.findByUserCode('DeviceCode', 'nope', now), null);
    });

    it('revokes every record of a grant, and only those', async () => {
      await store.oidc.upsert(aRecord());
      await store.oidc.upsert(aRecord({ model: 'AccessToken', id: 'at-1' }));
      await store.oidc.upsert(aRecord({ model: 'RefreshToken', id: 'rt-1' }));
      await store.oidc.upsert(aRecord({ model: 'AccessToken', id: 'at-2', grantId: 'grant-2' }));
      assert.equal(await store.oidc.revokeByGrantId('grant-1'), 3);
      assert.equal(await store.oidc.find('AccessToken', 'at-1', now), null);
      assert.equal(await store.oidc.find('RefreshToken', 'rt-1', now), null);
      assert.notEqual(await store.oidc.find('AccessToken', 'at-2', now), null);
    });

    it('destroys one record', async () => {
      await store.oidc.upsert(aRecord());
      await store.oidc.destroy('AuthorizationCode', 'code-1');
      assert.equal(await store.oidc.find('AuthorizationCode', 'code-1', now), null);
      await store.oidc.destroy('AuthorizationCode', 'code-1');
    });

    it('lists the live records of one model by id', async () => {
      for (const id of ['c', 'a', 'b']) await store.oidc.upsert(aRecord({ model: 'Client', id, expiresAt: null, grantId: null }));
      await store.oidc.upsert(aRecord({ model: 'Client', id: 'old', expiresAt: at('2030-01-01T00:00:00.000Z'), grantId: null }));
      await store.oidc.upsert(aRecord());
      assert.deepEqual((await store.oidc.list('Client', now, 10)).map((r) => r.id), ['a', 'b', 'c']);
      assert.deepEqual((await store.oidc.list('Client', now, 2)).map((r) => r.id), ['a', 'b']);
    });

    it('purges records expired before the cutoff, a batch at a time, and keeps the rest', async () => {
      for (let i = 0; i < 3; i++) await store.oidc.upsert(aRecord({ id: `old-${i}`, expiresAt: at('2030-01-01T00:00:00.000Z') }));
      await store.oidc.upsert(aRecord({ id: 'live' }));
      await store.oidc.upsert(aRecord({ model: 'Client', id: 'forever', expiresAt: null }));
      assert.equal(await store.oidc.purgeExpired(now, 2), 2);
      assert.equal(await store.oidc.purgeExpired(now, 2), 1);
      assert.equal(await store.oidc.purgeExpired(now, 2), 0);
      assert.notEqual(await store.oidc.find('AuthorizationCode', 'live', now), null);
      assert.notEqual(await store.oidc.find('Client', 'forever', now), null);
    });
  });
}
