/**
 * The store contract, continued: passkeys (WebAuthn credentials) and their challenges (one-time
 * tokens of two purposes). Called by storeContract, so SQLite, PostgreSQL and MongoDB all pass it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Conflict, type Passkey, type Store } from '../../src/store/store.js';
import { aUser } from './contract.js';

const at = (iso: string) => new Date(iso);

export function aPasskey(userId: string, overrides: Partial<Passkey> = {}): Passkey {
  return {
    id: randomBytes(16).toString('base64url'),
    userId,
    publicKey: randomBytes(77).toString('base64url'),
    counter: 0,
    transports: ['internal', 'hybrid'],
    deviceType: 'multiDevice',
    backedUp: true,
    backupEligible: true,
    aaguid: 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd',
    name: 'Work laptop',
    createdAt: at('2030-01-01T00:00:00.000Z'),
    lastUsedAt: null,
    ...overrides,
  };
}

export function passkeyContract(name: string, open: () => Promise<Store>): void {
  describe(`Store contract (passkeys): ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('round-trips every field of a passkey', async () => {
      const user = await store.insertUser(aUser());
      const passkey = aPasskey(user.id, { counter: 7, deviceType: 'singleDevice', backedUp: false, backupEligible: false, transports: ['usb'] });
      await store.passkeys.insert(passkey);
      assert.deepEqual(await store.passkeys.findById(passkey.id), passkey);
      assert.equal(await store.passkeys.findById('nope'), null);
    });

    it('refuses a second credential with the same id, even for another user (Conflict)', async () => {
      const alice = await store.insertUser(aUser());
      const bob = await store.insertUser(aUser());
      const passkey = aPasskey(alice.id);
      await store.passkeys.insert(passkey);
      await assert.rejects(store.passkeys.insert({ ...passkey, userId: bob.id }), Conflict);
      assert.equal((await store.passkeys.findById(passkey.id))?.userId, alice.id);
    });

    it("lists a user's passkeys oldest first, and nobody else's", async () => {
      const alice = await store.insertUser(aUser());
      const bob = await store.insertUser(aUser());
      const second = aPasskey(alice.id, { createdAt: at('2030-01-02T00:00:00.000Z'), name: 'Phone' });
      const first = aPasskey(alice.id, { createdAt: at('2030-01-01T00:00:00.000Z') });
      await store.passkeys.insert(second);
      await store.passkeys.insert(first);
      await store.passkeys.insert(aPasskey(bob.id));
      assert.deepEqual((await store.passkeys.listForUser(alice.id)).map((p) => p.id), [first.id, second.id]);
      assert.deepEqual(await store.passkeys.listForUser('0123456789abcdef01234567'), []);
    });

    it('records a use only while the counter is the one expected (compare-and-set)', async () => {
      const user = await store.insertUser(aUser());
      const passkey = aPasskey(user.id, { counter: 5, backedUp: false });
      await store.passkeys.insert(passkey);
      const use = { counter: 6, backedUp: true, at: at('2030-01-03T00:00:00.000Z') };
      assert.equal(await store.passkeys.recordUse(passkey.id, use, 5), true);
      // A concurrent use that read counter 5 too loses.
      assert.equal(await store.passkeys.recordUse(passkey.id, { ...use, counter: 6 }, 5), false);
      assert.deepEqual(await store.passkeys.findById(passkey.id), { ...passkey, counter: 6, backedUp: true, lastUsedAt: use.at });
      assert.equal(await store.passkeys.recordUse('gone', use, 0), false);
    });

    it('keeps a counter of 0 at 0 for synced passkeys, use after use', async () => {
      const user = await store.insertUser(aUser());
      const passkey = aPasskey(user.id);
      await store.passkeys.insert(passkey);
      const use = { counter: 0, backedUp: true, at: at('2030-01-03T00:00:00.000Z') };
      assert.equal(await store.passkeys.recordUse(passkey.id, use, 0), true);
      assert.equal(await store.passkeys.recordUse(passkey.id, use, 0), true);
    });

    it("renames only the owner's passkey", async () => {
      const alice = await store.insertUser(aUser());
      const bob = await store.insertUser(aUser());
      const passkey = aPasskey(alice.id);
      await store.passkeys.insert(passkey);
      assert.equal(await store.passkeys.rename(bob.id, passkey.id, 'Mine now'), false);
      assert.equal(await store.passkeys.rename(alice.id, passkey.id, 'Phone'), true);
      assert.equal((await store.passkeys.findById(passkey.id))?.name, 'Phone');
    });

    it("deletes only the owner's passkey; with keepOne, never the last one", async () => {
      const alice = await store.insertUser(aUser());
      const bob = await store.insertUser(aUser());
      const one = aPasskey(alice.id);
      const two = aPasskey(alice.id);
      await store.passkeys.insert(one);
      await store.passkeys.insert(two);
      assert.equal(await store.passkeys.delete(bob.id, one.id), 'not_found');
      assert.equal(await store.passkeys.delete(alice.id, one.id, { keepOne: true }), 'deleted');
      assert.equal(await store.passkeys.delete(alice.id, two.id, { keepOne: true }), 'last');
      assert.notEqual(await store.passkeys.findById(two.id), null);
      assert.equal(await store.passkeys.delete(alice.id, one.id, { keepOne: true }), 'not_found');
      assert.equal(await store.passkeys.delete(alice.id, two.id), 'deleted');
      assert.deepEqual(await store.passkeys.listForUser(alice.id), []);
    });

    it('of two concurrent keepOne deletions of the last two passkeys, one wins', async () => {
      const user = await store.insertUser(aUser());
      const one = aPasskey(user.id);
      const two = aPasskey(user.id);
      await store.passkeys.insert(one);
      await store.passkeys.insert(two);
      const results = await Promise.all([
        store.passkeys.delete(user.id, one.id, { keepOne: true }),
        store.passkeys.delete(user.id, two.id, { keepOne: true }),
      ]);
      assert.ok(results.includes('last'), `one refused: ${results.join(', ')}`);
      assert.equal((await store.passkeys.listForUser(user.id)).length, 1);
    });

    it('deletes the passkeys with their user', async () => {
      const user = await store.insertUser(aUser());
      const passkey = aPasskey(user.id);
      await store.passkeys.insert(passkey);
      assert.equal(await store.deleteUser(user.id), true);
      assert.equal(await store.passkeys.findById(passkey.id), null);
    });

    it('consumes a passkey challenge once, for its own ceremony only', async () => {
      const user = await store.insertUser(aUser());
      const now = at('2030-01-15T00:00:00.000Z');
      const hash = randomBytes(32).toString('hex');
      await store.oneTimeTokens.insert({
        hash,
        purpose: 'passkey_registration',
        userId: user.id,
        createdAt: now,
        expiresAt: new Date(now.getTime() + 300_000),
        data: null,
      });
      assert.equal(await store.oneTimeTokens.consume(hash, 'passkey_authentication', now), null);
      assert.equal((await store.oneTimeTokens.consume(hash, 'passkey_registration', now))?.userId, user.id);
      assert.equal(await store.oneTimeTokens.consume(hash, 'passkey_registration', now), null);
    });
  });
}
