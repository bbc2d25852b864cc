/**
 * The store contract, continued: the auth data (user security fields, sessions and their refresh
 * tokens, single-use tokens, the audit log). Called by storeContract, so every store passes it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { LastAdmin, type Session, type Store } from '../../src/store/store.js';
import { newId, newSequentialId } from '../../src/users/ids.js';
import { aUser } from './contract.js';

const hash = () => randomBytes(32).toString('hex');
const at = (iso: string) => new Date(iso);

function aSession(userId: string, overrides: Partial<Session> = {}): Session {
  return {
    id: newId(),
    userId,
    kind: 'api',
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
        assert.deepEqual(user.revokedSessions, []);
        assert.equal(user.qrIssuedAt, null);
        const patch = {
          disabled: true,
          emailVerified: true,
          totpSecret: 'JBSWY3DPEHPK3PXP',
          totpEnabled: true,
          totpLastStep: 12345678,
          qrIssuedAt: at('2030-01-01T00:00:00.456Z'),
        };
        const updated = await store.updateUser(user.id, patch);
        assert.deepEqual(updated, { ...user, ...patch });
        assert.deepEqual(await store.findUserById(user.id), { ...user, ...patch });
        const cleared = await store.updateUser(user.id, { qrIssuedAt: null, totpSecret: null });
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

      it('lists revoked sessions until they expire, adds them atomically, and empties them with a version bump', async () => {
        const user = await store.insertUser(aUser());
        const until = at('2030-01-15T00:15:00.000Z');
        const ids = Array.from({ length: 8 }, () => newId());
        const counts = await Promise.all(ids.map((sessionId) => store.addRevokedSession(user.id, { sessionId, until }, now)));
        assert.deepEqual([...counts].sort((a, b) => (a ?? 0) - (b ?? 0)), [1, 2, 3, 4, 5, 6, 7, 8], 'none lost to a race');
        const listed = (await store.findUserById(user.id))?.revokedSessions ?? [];
        assert.deepEqual(listed.map((e) => e.sessionId).sort(), [...ids].sort());
        assert.deepEqual(listed[0]?.until, until);
        // Later, the expired entries go as a new one comes; the same session is listed once.
        const later = at('2030-01-15T00:20:00.000Z');
        const fresh = { sessionId: ids[0] as string, until: at('2030-01-15T00:35:00.000Z') };
        assert.equal(await store.addRevokedSession(user.id, fresh, later), 1);
        assert.deepEqual((await store.findUserById(user.id))?.revokedSessions, [fresh]);
        await store.bumpTokenVersion(user.id);
        assert.deepEqual((await store.findUserById(user.id))?.revokedSessions, []);
        assert.equal(await store.addRevokedSession(newId(), fresh, now), null);
      });

      it('keeps an enabled admin when two demote, disable or delete each other at the same moment', async () => {
        for (const write of ['demote', 'disable', 'delete'] as const) {
          for (let round = 0; round < 5; round++) {
            const a = await store.insertUser(aUser({ role: 'admin' }));
            const b = await store.insertUser(aUser({ role: 'admin' }));
            const act = (id: string) =>
              write === 'delete'
                ? store.deleteUser(id, { keepEnabledAdmin: true })
                : store.updateUser(id, write === 'demote' ? { role: 'teacher' } : { disabled: true }, { keepEnabledAdmin: true });
            const settled = await Promise.allSettled([act(a.id), act(b.id)]);
            assert.equal(settled.filter((r) => r.status === 'fulfilled').length, 1, `${write}: exactly one wins`);
            const refused = settled.find((r) => r.status === 'rejected') as PromiseRejectedResult;
            assert.ok(refused.reason instanceof LastAdmin, `${write}: the other is refused with LastAdmin`);
            const left = await Promise.all([a.id, b.id].map((id) => store.findUserById(id)));
            assert.equal(left.filter((u) => u !== null && u.role === 'admin' && !u.disabled).length, 1, `${write}: one enabled admin left`);
            // Clean up for the next round: no admin left behind to make the next pair not the last.
            for (const u of left) if (u !== null) await store.deleteUser(u.id);
          }
        }
        const only = await store.insertUser(aUser({ role: 'admin' }));
        await assert.rejects(store.updateUser(only.id, { role: 'student' }, { keepEnabledAdmin: true }), LastAdmin);
        assert.equal((await store.updateUser(only.id, { fullName: 'Still the admin' }, { keepEnabledAdmin: true }))?.role, 'admin');
        await assert.rejects(store.deleteUser(only.id, { keepEnabledAdmin: true }), LastAdmin);
        assert.ok(await store.findUserById(only.id), 'nothing changed');
      });

      it('tells whether any password hash of the old service (bcrypt) is left', async () => {
        assert.equal(await store.hasLegacyPasswordHashes(), false);
        const legacy = await store.insertUser(aUser({ passwordHash: '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW' }));
        await store.insertUser(aUser());
        assert.equal(await store.hasLegacyPasswordHashes(), true);
        await store.updateUser(legacy.id, { passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA' });
        assert.equal(await store.hasLegacyPasswordHashes(), false);
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

    describe('purge (what is kept only for a while)', () => {
      const ms = (iso: string) => new Date(iso);
      it('removes expired one-time tokens a batch at a time, never live or lasting ones', async () => {
        const user = await store.insertUser(aUser());
        const token = (expiresAt: Date | null) => ({
          hash: hash(),
          purpose: 'password_reset' as const,
          userId: user.id,
          createdAt: ms('2030-01-01T00:00:00Z'),
          expiresAt,
          data: null,
        });
        for (let i = 0; i < 5; i++) await store.oneTimeTokens.insert(token(ms('2030-01-10T00:00:00Z')));
        const live = token(ms('2030-01-20T00:00:00Z'));
        const lasting = { ...token(null), purpose: 'recovery' as const };
        await store.oneTimeTokens.insert(live);
        await store.oneTimeTokens.insert(lasting);
        assert.equal(await store.purge.purge('one_time_tokens', now, 3), 3, 'a batch of at most the limit');
        assert.equal(await store.purge.purge('one_time_tokens', now, 3), 2);
        assert.equal(await store.purge.purge('one_time_tokens', now, 3), 0);
        assert.ok(await store.oneTimeTokens.find(live.hash, 'password_reset', now));
        assert.ok(await store.oneTimeTokens.find(lasting.hash, 'recovery', now));
      });

      it('removes ended sessions with their refresh tokens, and refresh tokens used long ago', async () => {
        const user = await store.insertUser(aUser());
        const ended = aSession(user.id, { expiresAt: ms('2030-01-05T00:00:00Z') });
        const revoked = aSession(user.id, { revokedAt: ms('2030-01-06T00:00:00Z') });
        const live = aSession(user.id);
        const [endedToken, liveToken] = [hash(), hash()];
        await store.sessions.create(ended, endedToken);
        await store.sessions.create(revoked, hash());
        await store.sessions.create(live, liveToken);
        const next = hash();
        assert.equal(await store.sessions.rotate(liveToken, next, ms('2030-01-02T00:00:00Z')), true);
        assert.equal(await store.purge.purge('sessions', now, 100), 2);
        assert.equal(await store.sessions.findByTokenHash(endedToken), null, 'its refresh token went with it');
        assert.deepEqual((await store.sessions.listActive(user.id, ms('2030-01-03T00:00:00Z'))).map((x) => x.id), [live.id]);
        assert.equal(await store.purge.purge('used_refresh_tokens', now, 100), 1, 'the token used on the 2nd');
        assert.equal(await store.sessions.findByTokenHash(liveToken), null);
        assert.ok(await store.sessions.findByTokenHash(next), 'the unused one stays');
      });

      it('removes audit events before the cutoff, oldest first, and stale attempt counters', async () => {
        for (const at of ['2029-01-01T00:00:00Z', '2029-06-01T00:00:00Z', '2030-01-14T00:00:00Z']) {
          await store.audit.insert({ id: newSequentialId(ms(at)), at: ms(at), type: 'login.failed', userId: null, actorId: null, ip: null, userAgent: null, detail: null });
        }
        assert.equal(await store.purge.purge('audit_events', ms('2029-12-31T00:00:00Z'), 1), 1);
        assert.equal(await store.purge.purge('audit_events', ms('2029-12-31T00:00:00Z'), 10), 1);
        assert.deepEqual((await store.audit.list({ limit: 10 })).map((e) => e.at.toISOString()), ['2030-01-14T00:00:00.000Z']);

        const policy = { threshold: 5, maxLockSeconds: 900 };
        await store.throttles.claim('a'.repeat(64), 'user:old', policy, ms('2030-01-10T00:00:00Z'));
        await store.throttles.claim('b'.repeat(64), 'user:new', policy, ms('2030-01-14T23:00:00Z'));
        assert.equal(await store.purge.purge('throttles', ms('2030-01-14T00:00:00Z'), 10), 1);
        assert.deepEqual(await store.throttles.claim('b'.repeat(64), 'user:new', policy, now), { allowed: true, failures: 2 }, 'the recent counter stays');
      });
    });

    describe('throttles (counted attempts and locks)', () => {
      const policy = { threshold: 5, maxLockSeconds: 900 };
      const key = () => randomBytes(32).toString('hex');
      const seconds = (n: number) => new Date(now.getTime() + n * 1000);

      it('allows `threshold` attempts, then refuses until the lock ends, with a doubling, capped lock', async () => {
        const k = key();
        for (let i = 1; i <= 5; i++) assert.deepEqual(await store.throttles.claim(k, 'user:a', policy, now), { allowed: true, failures: i });
        assert.deepEqual(await store.throttles.claim(k, 'user:a', policy, now), { allowed: false, retryAfterSeconds: 1 });
        assert.deepEqual(await store.throttles.claim(k, 'user:a', policy, seconds(1)), { allowed: true, failures: 6 });
        assert.deepEqual(await store.throttles.claim(k, 'user:a', policy, seconds(1.5)), { allowed: false, retryAfterSeconds: 2 });
        assert.deepEqual(await store.throttles.claim(k, 'user:a', policy, seconds(3)), { allowed: true, failures: 7 });
        assert.deepEqual(await store.throttles.claim(k, 'user:a', policy, seconds(3)), { allowed: false, retryAfterSeconds: 4 });
        // Far on: the lock never passes its cap.
        let t = 10;
        for (let i = 0; i < 12; i++) {
          assert.equal((await store.throttles.claim(k, 'user:a', policy, seconds(t))).allowed, true);
          t += 1000;
        }
        assert.deepEqual(await store.throttles.claim(k, 'user:a', policy, seconds(t - 1000)), { allowed: false, retryAfterSeconds: 900 });
      });

      it('lets exactly `threshold` of 30 concurrent claims on one key through', async () => {
        const k = key();
        const claims = await Promise.all(Array.from({ length: 30 }, () => store.throttles.claim(k, 'user:b', policy, now)));
        assert.equal(claims.filter((c) => c.allowed).length, 5);
        assert.deepEqual(
          claims.filter((c) => c.allowed).map((c) => (c.allowed ? c.failures : 0)).sort(),
          [1, 2, 3, 4, 5],
        );
      });

      it('takes back one attempt (no lock below the threshold), clears keys, and clears a subject', async () => {
        const [k1, k2, k3] = [key(), key(), key()];
        for (let i = 0; i < 5; i++) await store.throttles.claim(k1, 'user:c', policy, now);
        assert.equal((await store.throttles.claim(k1, 'user:c', policy, now)).allowed, false);
        await store.throttles.refund(k1, policy);
        assert.deepEqual(await store.throttles.claim(k1, 'user:c', policy, now), { allowed: true, failures: 5 }, 'the lock went with it');
        await store.throttles.clear([k1]);
        assert.deepEqual(await store.throttles.claim(k1, 'user:c', policy, now), { allowed: true, failures: 1 });
        for (let i = 0; i < 5; i++) await store.throttles.claim(k2, 'user:c', policy, now);
        for (let i = 0; i < 5; i++) await store.throttles.claim(k3, 'user:d', policy, now);
        await store.throttles.clearSubject('user:c');
        assert.equal((await store.throttles.claim(k2, 'user:c', policy, now)).allowed, true);
        assert.equal((await store.throttles.claim(k3, 'user:d', policy, now)).allowed, false, 'another subject keeps its lock');
        // In the locked zone: the lock this claim set goes, and the next failure locks as it would have.
        const k4 = key();
        for (let i = 0; i < 6; i++) await store.throttles.claim(k4, 'user:e', policy, seconds(i * 10));
        await store.throttles.refund(k4, policy);
        assert.deepEqual(await store.throttles.claim(k4, 'user:e', policy, seconds(51)), { allowed: true, failures: 6 });
        assert.deepEqual(await store.throttles.claim(k4, 'user:e', policy, seconds(51)), { allowed: false, retryAfterSeconds: 2 });
        await store.throttles.refund(key(), policy); // nothing to take back: no error
        await store.throttles.clear([]);
      });
    });

    describe('sessions and refresh tokens', () => {
      it('keeps the kind of a session (api or browser) and records its use with touch', async () => {
        const user = await store.insertUser(aUser());
        const browser = aSession(user.id, { kind: 'browser' });
        const token = hash();
        await store.sessions.create(browser, token);
        await store.sessions.create(aSession(user.id), hash());
        assert.deepEqual((await store.sessions.findByTokenHash(token))?.session, browser);
        assert.deepEqual((await store.sessions.listActive(user.id, now)).map((s) => s.kind).sort(), ['api', 'browser']);
        const later = at('2030-01-20T00:00:00.000Z');
        await store.sessions.touch(browser.id, later);
        assert.deepEqual((await store.sessions.findByTokenHash(token))?.session.lastUsedAt, later);
        await store.sessions.touch(newId(), later); // unknown: nothing, no error
      });

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
