/**
 * The store contract, continued: the auth data (user security fields, sessions and their refresh
 * tokens, single-use tokens, the audit log). Called by storeContract, so every store passes it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Session, Store } from '../../src/store/store.js';
import { newId } from '../../src/users/ids.js';
import { aUser } from './contract.js';

const hash = () => randomBytes(32).toString('hex');
const at = (iso: string) => new Date(iso);

function aSession(userId: string, overrides: Partial<Session> = {}): Session {
  return {
    id: newId(),
    userId,
    createdAt: at('2030-01-01T00:00:00.000Z'),
    lastUsedAt: at('2030-01-01T00:00:00.000Z'),
    expiresAt: at('2030-02-01T00:00:00.000Z'),
    revokedAt: null,
    userAgent: 'curl/8.0',
    ip: '127.0.0.1',
    ...overrides,
  };
}

export function authDataContract(name: string, open: () => Promise<Store>): void {
  describe(`Store contract (auth data): ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });
    const now = at('2030-01-15T00:00:00.000Z');

    describe('user security fields', () => {
      it('starts new users at the defaults and round-trips every field through updateUser', async () => {
        const user = await store.insertUser(aUser());
        assert.equal(user.disabled, false);
        assert.equal(user.emailVerified, false);
        assert.equal(user.tokenVersion, 0);
        assert.equal(user.totpEnabled, false);
        assert.equal(user.totpSecret, null);
        assert.equal(user.failedLogins, 0);
        assert.equal(user.lockedUntil, null);
        assert.equal(user.qrIssuedAt, null);
        const patch = {
          disabled: true,
          emailVerified: true,
          totpSecret: 'JBSWY3DPEHPK3PXP',
          totpEnabled: true,
          totpLastStep: 12345678,
          failedLogins: 3,
          lockedUntil: at('2030-01-01T00:05:00.123Z'),
          qrIssuedAt: at('2030-01-01T00:00:00.456Z'),
        };
        const updated = await store.updateUser(user.id, patch);
        assert.deepEqual(updated, { ...user, ...patch });
        assert.deepEqual(await store.findUserById(user.id), { ...user, ...patch });
        const cleared = await store.updateUser(user.id, { lockedUntil: null, qrIssuedAt: null, totpSecret: null });
        assert.equal(cleared?.lockedUntil, null);
        assert.equal(cleared?.qrIssuedAt, null);
        assert.equal(cleared?.totpSecret, null);
      });

      it('bumps the token version atomically', async () => {
        const user = await store.insertUser(aUser());
        const versions = await Promise.all(Array.from({ length: 10 }, () => store.bumpTokenVersion(user.id)));
        assert.deepEqual([...versions].sort((a, b) => (a ?? 0) - (b ?? 0)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert.equal((await store.findUserById(user.id))?.tokenVersion, 10);
        assert.equal(await store.bumpTokenVersion(newId()), null);
      });

      it('counts failed logins atomically', async () => {
        const user = await store.insertUser(aUser());
        await Promise.all(Array.from({ length: 5 }, () => store.incrementFailedLogins(user.id)));
        assert.equal((await store.findUserById(user.id))?.failedLogins, 5);
        assert.equal(await store.incrementFailedLogins(newId()), null);
      });

      it('accepts a TOTP step once, and only steps newer than the last', async () => {
        const user = await store.insertUser(aUser());
        assert.equal(await store.claimTotpStep(user.id, 100), true);
        assert.equal(await store.claimTotpStep(user.id, 100), false, 'the same step is a replay');
        assert.equal(await store.claimTotpStep(user.id, 99), false);
        assert.equal(await store.claimTotpStep(user.id, 101), true);
        const racing = await Promise.all(Array.from({ length: 8 }, () => store.claimTotpStep(user.id, 200)));
        assert.equal(racing.filter(Boolean).length, 1);
        assert.equal(await store.claimTotpStep(newId(), 1), false);
      });
    });

    describe('sessions and refresh tokens', () => {
      it('creates a session and finds it by its refresh token', async () => {
        const user = await store.insertUser(aUser());
        const session = aSession(user.id);
        const token = hash();
        await store.sessions.create(session, token);
        const found = await store.sessions.findByTokenHash(token);
        assert.deepEqual(found?.session, session);
        assert.equal(found?.token.hash, token);
        assert.equal(found?.token.sessionId, session.id);
        assert.equal(found?.token.usedAt, null);
        assert.equal(await store.sessions.findByTokenHash(hash()), null);
      });

      it('rotates a token once: the old one is marked used, the new one belongs to the session', async () => {
        const user = await store.insertUser(aUser());
        const session = aSession(user.id);
        const first = hash();
        const second = hash();
        await store.sessions.create(session, first);
        assert.equal(await store.sessions.rotate(first, second, now), true);
        assert.deepEqual((await store.sessions.findByTokenHash(first))?.token.usedAt, now);
        const next = await store.sessions.findByTokenHash(second);
        assert.equal(next?.session.id, session.id);
        assert.deepEqual(next?.session.lastUsedAt, now);
        assert.equal(await store.sessions.rotate(first, hash(), now), false, 'a used token never rotates again');
        assert.equal(await store.sessions.rotate(hash(), hash(), now), false, 'an unknown token does not rotate');
      });

      it('lets exactly one of many concurrent rotations of one token win', async () => {
        const user = await store.insertUser(aUser());
        const session = aSession(user.id);
        const first = hash();
        await store.sessions.create(session, first);
        const results = await Promise.all(Array.from({ length: 10 }, () => store.sessions.rotate(first, hash(), now)));
        assert.equal(results.filter(Boolean).length, 1);
      });

      it('revokes one session, or all of a user, and lists only the live ones', async () => {
        const user = await store.insertUser(aUser());
        const other = await store.insertUser(aUser());
        const a = aSession(user.id, { createdAt: at('2030-01-01T00:00:00.000Z') });
        const b = aSession(user.id, { createdAt: at('2030-01-02T00:00:00.000Z') });
        const expired = aSession(user.id, { expiresAt: at('2030-01-10T00:00:00.000Z') });
        const theirs = aSession(other.id);
        for (const s of [a, b, expired, theirs]) await store.sessions.create(s, hash());
        assert.deepEqual((await store.sessions.listActive(user.id, now)).map((s) => s.id), [b.id, a.id]);
        assert.equal(await store.sessions.revoke(a.id, now), true);
        assert.equal(await store.sessions.revoke(a.id, now), false, 'already revoked');
        assert.equal(await store.sessions.revoke(newId(), now), false);
        assert.deepEqual((await store.sessions.listActive(user.id, now)).map((s) => s.id), [b.id]);
        assert.equal(await store.sessions.revokeAllOfUser(user.id, now), 2, 'b and the expired one');
        assert.deepEqual(await store.sessions.listActive(user.id, now), []);
        assert.equal((await store.sessions.listActive(other.id, now)).length, 1, "another user's sessions stay");
      });

      it('removes the sessions and tokens of a deleted user', async () => {
        const user = await store.insertUser(aUser());
        const token = hash();
        await store.sessions.create(aSession(user.id), token);
        await store.deleteUser(user.id);
        assert.equal(await store.sessions.findByTokenHash(token), null);
        assert.deepEqual(await store.sessions.listActive(user.id, now), []);
      });
    });

    describe('single-use tokens', () => {
      it('gives a token back once, for its purpose, before it expires', async () => {
        const user = await store.insertUser(aUser());
        const token = {
          hash: hash(),
          purpose: 'password_reset' as const,
          userId: user.id,
          createdAt: at('2030-01-14T23:50:00.000Z'),
          expiresAt: at('2030-01-15T00:20:00.000Z'),
          data: '{"email":"x@example.com"}',
        };
        await store.oneTimeTokens.insert(token);
        assert.deepEqual(await store.oneTimeTokens.find(token.hash, 'password_reset', now), token, 'find does not use it up');
        assert.equal(await store.oneTimeTokens.find(token.hash, 'mfa', now), null);
        assert.equal(await store.oneTimeTokens.find(token.hash, 'password_reset', at('2030-01-16T00:00:00.000Z')), null, 'expired');
        assert.equal(await store.oneTimeTokens.consume(token.hash, 'email_verify', now), null, 'wrong purpose');
        assert.deepEqual(await store.oneTimeTokens.consume(token.hash, 'password_reset', now), token);
        assert.equal(await store.oneTimeTokens.consume(token.hash, 'password_reset', now), null, 'single use');
      });

      it('refuses an expired token, accepts one that never expires, and lets one racer win', async () => {
        const user = await store.insertUser(aUser());
        const base = { userId: user.id, createdAt: at('2030-01-01T00:00:00.000Z'), data: null };
        const expired = { ...base, hash: hash(), purpose: 'mfa' as const, expiresAt: at('2030-01-14T00:00:00.000Z') };
        const forever = { ...base, hash: hash(), purpose: 'recovery' as const, expiresAt: null };
        await store.oneTimeTokens.insert(expired);
        await store.oneTimeTokens.insert(forever);
        assert.equal(await store.oneTimeTokens.consume(expired.hash, 'mfa', now), null);
        const racing = await Promise.all(
          Array.from({ length: 6 }, () => store.oneTimeTokens.consume(forever.hash, 'recovery', now)),
        );
        assert.equal(racing.filter((r) => r !== null).length, 1);
      });

      it('counts and deletes a user\'s tokens of one purpose, and deletes them with the user', async () => {
        const user = await store.insertUser(aUser());
        const base = { userId: user.id, createdAt: now, expiresAt: null, data: null };
        for (let i = 0; i < 3; i++) await store.oneTimeTokens.insert({ ...base, hash: hash(), purpose: 'recovery' });
        const reset = { ...base, hash: hash(), purpose: 'password_reset' as const };
        await store.oneTimeTokens.insert(reset);
        assert.equal(await store.oneTimeTokens.countForUser(user.id, 'recovery'), 3);
        assert.equal(await store.oneTimeTokens.deleteForUser(user.id, 'recovery'), 3);
        assert.equal(await store.oneTimeTokens.countForUser(user.id, 'recovery'), 0);
        assert.equal(await store.oneTimeTokens.countForUser(user.id, 'password_reset'), 1);
        await store.deleteUser(user.id);
        assert.equal(await store.oneTimeTokens.consume(reset.hash, 'password_reset', now), null);
      });
    });

    describe('audit log', () => {
      it('lists events newest first, pages with before, filters by user and type, and outlives the user', async () => {
        const user = await store.insertUser(aUser());
        const events = Array.from({ length: 5 }, (_, i) => ({
          id: newId(new Date(Date.UTC(2030, 0, 1, 0, 0, i))),
          at: new Date(Date.UTC(2030, 0, 1, 0, 0, i)),
          type: i % 2 === 0 ? 'login.succeeded' : 'login.failed',
          userId: i < 4 ? user.id : null,
          actorId: null,
          ip: '127.0.0.1',
          userAgent: 'test',
          detail: i === 0 ? '{"reason":"x"}' : null,
        }));
        for (const e of events) await store.audit.insert(e);
        const ids = events.map((e) => e.id).reverse();
        assert.deepEqual((await store.audit.list({ limit: 10 })).map((e) => e.id), ids);
        const first = await store.audit.list({ limit: 2 });
        const rest = await store.audit.list({ limit: 10, before: first[1]?.id as string });
        assert.deepEqual([...first, ...rest].map((e) => e.id), ids);
        assert.deepEqual(await store.audit.list({ limit: 10, type: 'login.failed' }), [events[3], events[1]]);
        assert.equal((await store.audit.list({ limit: 10, userId: user.id })).length, 4);
        await store.deleteUser(user.id);
        assert.equal((await store.audit.list({ limit: 10, userId: user.id })).length, 4);
      });
    });
  });
}
