/**
 * The passkey API, rule by rule, with a software authenticator (test/helpers/soft-authenticator.ts):
 * registration and sign-in ceremonies, challenges (reuse, wrong ceremony, another user's, expired),
 * the relying party (origin, RP ID), user verification, counters and backup flags, the lock and
 * disabled accounts, TOTP users, management and the last way to sign in, and the admin's removal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { bearer, buildTestApp, signUp, signUpAdmin, type TestApp } from '../../helpers/app.js';
import { createSoftAuthenticator, type SoftAuthenticator } from '../../helpers/soft-authenticator.js';

const ORIGIN = 'http://localhost:8000';
const RP_ID = 'localhost';

describe('passkeys API', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(async () => {
    await t.close();
  });

  const post = (url: string, payload: unknown, token?: string) =>
    t.app.inject({ method: 'POST', url, payload: payload as Record<string, unknown>, headers: token ? bearer(token) : {} });

  async function beginRegistration(token: string, body: Record<string, unknown> = {}) {
    const res = await post('/auth/passkeys/register/begin', body, token);
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  }

  /** A new user with one passkey from `authn`. */
  async function userWithPasskey(authn: SoftAuthenticator = createSoftAuthenticator({ origin: ORIGIN, rpId: RP_ID })) {
    const user = await signUp(t.app);
    const options = await beginRegistration(user.token);
    const res = await post('/auth/passkeys/register/finish', { name: 'Work laptop', response: authn.register(options) }, user.token);
    assert.equal(res.statusCode, 201, res.body);
    return { ...user, authn, passkeyId: res.json().id as string };
  }

  async function loginOptions(body: Record<string, unknown> = {}) {
    const res = await post('/auth/passkeys/login/begin', body);
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  }

  const finishLogin = (response: unknown) => post('/auth/passkeys/login/finish', { response });

  async function auditTypes(userId: string) {
    return (await t.store.audit.list({ limit: 50, userId })).map((e) => e.type);
  }

  describe('registration', () => {
    it('offers a discoverable, user-verified credential with attestation none, excluding the passkeys the user has', async () => {
      const { token, passkeyId, id } = await userWithPasskey();
      const options = await beginRegistration(token);
      assert.equal(options.rp.id, RP_ID);
      assert.equal(options.attestation, 'none');
      assert.equal(options.authenticatorSelection.residentKey, 'required');
      assert.equal(options.authenticatorSelection.userVerification, 'required');
      assert.deepEqual(options.excludeCredentials.map((c: { id: string }) => c.id), [passkeyId]);
      assert.equal(Buffer.from(options.user.id, 'base64url').toString(), id);
      assert.ok(Buffer.from(options.challenge, 'base64url').length >= 16);
    });

    it('stores every field of the new passkey and audits it', async () => {
      const authn = createSoftAuthenticator({ origin: ORIGIN, rpId: RP_ID, be: true, bs: true });
      const { token, id, passkeyId } = await userWithPasskey(authn);
      const list = await t.app.inject({ url: '/auth/passkeys', headers: bearer(token) });
      assert.equal(list.statusCode, 200);
      const [passkey] = list.json();
      assert.equal(passkey.id, passkeyId);
      assert.equal(passkey.name, 'Work laptop');
      assert.equal(passkey.device_type, 'multiDevice');
      assert.equal(passkey.backed_up, true);
      assert.deepEqual(passkey.transports, ['internal']);
      assert.equal(passkey.aaguid, '00000000-0000-0000-0000-000000000000');
      assert.equal(passkey.last_used_at, null);
      const stored = await t.store.passkeys.findById(passkeyId);
      assert.equal(stored?.backupEligible, true);
      assert.ok((await auditTypes(id)).includes('passkey.registered'));
    });

    it('asks for the password again when the sign-in is older than 5 minutes', async () => {
      const { token, body } = await signUp(t.app);
      t.advance(6 * 60_000);
      try {
        const stale = await post('/auth/passkeys/register/begin', {}, token);
        assert.equal(stale.statusCode, 403);
        assert.equal(stale.json().code, 'REAUTH_REQUIRED');
        const wrong = await post('/auth/passkeys/register/begin', { password: 'not the password' }, token);
        assert.equal(wrong.json().code, 'INVALID_PASSWORD');
        const right = await post('/auth/passkeys/register/begin', { password: body.password }, token);
        assert.equal(right.statusCode, 200, right.body);
      } finally {
        t.advance(-6 * 60_000);
      }
    });

    it('refuses a response without user verification', async () => {
      const { token, id } = await signUp(t.app);
      const authn = createSoftAuthenticator({ origin: ORIGIN, rpId: RP_ID, uv: false });
      const res = await post('/auth/passkeys/register/finish', { name: 'x', response: authn.register(await beginRegistration(token)) }, token);
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'PASSKEY_INVALID');
      assert.deepEqual(await t.store.passkeys.listForUser(id), []);
    });

    it('refuses an origin that is not in the list, and another RP ID', async () => {
      const { token } = await signUp(t.app);
      const evil = createSoftAuthenticator({ origin: 'http://localhost:9999', rpId: RP_ID });
      const res = await post('/auth/passkeys/register/finish', { name: 'x', response: evil.register(await beginRegistration(token)) }, token);
      assert.equal(res.json().code, 'PASSKEY_INVALID');
      const otherRp = createSoftAuthenticator({ origin: ORIGIN, rpId: 'evil.example' });
      const options = await beginRegistration(token);
      const res2 = await post('/auth/passkeys/register/finish', { name: 'x', response: otherRp.register({ ...options, rp: { id: 'evil.example' } }) }, token);
      assert.equal(res2.json().code, 'PASSKEY_INVALID');
    });

    it("uses a challenge once, even when verification failed, and never another user's", async () => {
      const alice = await signUp(t.app);
      const bob = await signUp(t.app);
      const authn = createSoftAuthenticator({ origin: ORIGIN, rpId: RP_ID, uv: false });
      const options = await beginRegistration(alice.token);
      const failed = await post('/auth/passkeys/register/finish', { name: 'x', response: authn.register(options) }, alice.token);
      assert.equal(failed.json().code, 'PASSKEY_INVALID');
      const good = createSoftAuthenticator({ origin: ORIGIN, rpId: RP_ID });
      const again = await post('/auth/passkeys/register/finish', { name: 'x', response: good.register(options) }, alice.token);
      assert.equal(again.statusCode, 400);
      assert.equal(again.json().code, 'PASSKEY_CHALLENGE_INVALID');
      // Bob finishing with Alice's challenge: refused, and her challenge is spent.
      const alices = await beginRegistration(alice.token);
      const stolen = await post('/auth/passkeys/register/finish', { name: 'x', response: good.register(alices) }, bob.token);
      assert.equal(stolen.json().code, 'PASSKEY_CHALLENGE_INVALID');
    });

    it('refuses a sign-in challenge for registration (wrong ceremony), and an expired one', async () => {
      const { token } = await signUp(t.app);
      const authn = createSoftAuthenticator({ origin: ORIGIN, rpId: RP_ID });
      const signInChallenge = await loginOptions();
      const options = await beginRegistration(token);
      const wrong = await post('/auth/passkeys/register/finish', { name: 'x', response: authn.register({ ...options, challenge: signInChallenge.challenge }) }, token);
      assert.equal(wrong.json().code, 'PASSKEY_CHALLENGE_INVALID');
      const fresh = await beginRegistration(token);
      t.advance(5 * 60_000 + 1000);
      try {
        const late = await post('/auth/passkeys/register/finish', { name: 'x', response: authn.register(fresh) }, token);
        assert.equal(late.json().code, 'PASSKEY_CHALLENGE_INVALID');
      } finally {
        t.advance(-(5 * 60_000 + 1000));
      }
    });

    it('refuses a credential id that is registered already (to anyone)', async () => {
      const { authn } = await userWithPasskey();
      const bob = await signUp(t.app);
      const first = authn.credentials[0];
      assert.ok(first);
      // The same credential id as the first user's passkey, from another key.
      const response = createSoftAuthenticator({ origin: ORIGIN, rpId: RP_ID }).register(await beginRegistration(bob.token), { credentialId: first.id });
      const res = await post('/auth/passkeys/register/finish', { name: 'x', response }, bob.token);
      assert.equal(res.statusCode, 409, res.body);
      assert.equal(res.json().code, 'PASSKEY_EXISTS');
    });

    it('refuses junk bodies with 422, never 5xx', async () => {
      const { token } = await signUp(t.app);
      for (const payload of [{}, { name: 'x' }, { name: 'x', response: { id: '!!', rawId: 'x', type: 'public-key', response: {}, clientExtensionResults: {} } }]) {
        const res = await post('/auth/passkeys/register/finish', payload, token);
        assert.equal(res.statusCode, 422, res.body);
      }
      const noToken = await post('/auth/passkeys/register/begin', {});
      assert.equal(noToken.statusCode, 401);
    });
  });

  describe('sign-in', () => {
    it('signs in username-less with the token pair of a password login, counts up, and audits the use', async () => {
      const { id, authn, passkeyId } = await userWithPasskey();
      const res = await finishLogin(authn.authenticate(await loginOptions()));
      assert.equal(res.statusCode, 200, res.body);
      const pair = res.json();
      assert.equal(pair.token_type, 'bearer');
      assert.ok(pair.refresh_token);
      const me = await t.app.inject({ url: '/users/me', headers: bearer(pair.access_token) });
      assert.equal(me.json().id, id);
      const stored = await t.store.passkeys.findById(passkeyId);
      assert.equal(stored?.counter, 1);
      assert.ok(stored?.lastUsedAt);
      const types = await auditTypes(id);
      assert.ok(types.includes('passkey.used'));
      assert.ok(types.includes('login.succeeded'));
    });

    it("by email first offers that account's passkeys only", async () => {
      const { body, passkeyId } = await userWithPasskey();
      const options = await loginOptions({ email: body.email });
      assert.deepEqual(options.allowCredentials.map((c: { id: string }) => c.id), [passkeyId]);
      assert.equal(options.userVerification, 'required');
      const anyone = await loginOptions();
      assert.deepEqual(anyone.allowCredentials, []);
    });

    it("refuses another user's credential for an email-first challenge", async () => {
      const alice = await userWithPasskey();
      const bob = await userWithPasskey();
      const options = await loginOptions({ email: bob.body.email });
      const res = await finishLogin(alice.authn.authenticate(options));
      assert.equal(res.statusCode, 401);
      assert.equal(res.json().code, 'PASSKEY_INVALID');
    });

    it('uses a challenge once, even when verification failed; refuses a registration challenge and an expired one', async () => {
      const { authn } = await userWithPasskey();
      const options = await loginOptions();
      const bad = await finishLogin(authn.authenticate(options, { uv: false }));
      assert.equal(bad.json().code, 'PASSKEY_INVALID');
      const replay = await finishLogin(authn.authenticate(options));
      assert.equal(replay.statusCode, 401);
      assert.equal(replay.json().code, 'PASSKEY_CHALLENGE_INVALID');

      const good = await loginOptions();
      const first = authn.authenticate(good);
      assert.equal((await finishLogin(first)).statusCode, 200);
      assert.equal((await finishLogin(first)).json().code, 'PASSKEY_CHALLENGE_INVALID');

      const other = await userWithPasskey();
      const registration = await beginRegistration(other.token);
      const wrong = await finishLogin(authn.authenticate({ challenge: registration.challenge }));
      assert.equal(wrong.json().code, 'PASSKEY_CHALLENGE_INVALID');

      const late = await loginOptions();
      t.advance(5 * 60_000 + 1000);
      try {
        assert.equal((await finishLogin(authn.authenticate(late))).json().code, 'PASSKEY_CHALLENGE_INVALID');
      } finally {
        t.advance(-(5 * 60_000 + 1000));
      }
    });

    it('refuses an assertion without user verification, and audits it', async () => {
      const { id, authn } = await userWithPasskey();
      const res = await finishLogin(authn.authenticate(await loginOptions(), { uv: false }));
      assert.equal(res.statusCode, 401);
      const failed = (await t.store.audit.list({ limit: 10, userId: id, type: 'login.failed' }))[0];
      assert.match(failed?.detail ?? '', /user_not_verified/);
    });

    it('refuses an origin not in the list and a wrong RP ID', async () => {
      const { authn } = await userWithPasskey();
      assert.equal((await finishLogin(authn.authenticate(await loginOptions(), { origin: 'https://evil.example' }))).json().code, 'PASSKEY_INVALID');
      const options = await loginOptions();
      assert.equal((await finishLogin(authn.authenticate({ ...options, rpId: 'evil.example' }))).json().code, 'PASSKEY_INVALID');
      // A forged response type (a registration's clientData on a sign-in).
      assert.equal((await finishLogin(authn.authenticate(await loginOptions(), { type: 'webauthn.create' }))).json().code, 'PASSKEY_INVALID');
    });

    it('refuses a counter that goes backwards and audits a possible clone', async () => {
      const { id, authn, passkeyId } = await userWithPasskey();
      assert.equal((await finishLogin(authn.authenticate(await loginOptions(), { counter: 10 }))).statusCode, 200);
      const res = await finishLogin(authn.authenticate(await loginOptions(), { counter: 4 }));
      assert.equal(res.statusCode, 401);
      assert.ok((await auditTypes(id)).includes('passkey.counter_regression'));
      assert.equal((await t.store.passkeys.findById(passkeyId))?.counter, 10);
      // The same count again is no better.
      assert.equal((await finishLogin(authn.authenticate(await loginOptions(), { counter: 10 }))).statusCode, 401);
      assert.equal((await finishLogin(authn.authenticate(await loginOptions(), { counter: 11 }))).statusCode, 200);
    });

    it('keeps synced passkeys that always report 0 working', async () => {
      const authn = createSoftAuthenticator({ origin: ORIGIN, rpId: RP_ID, be: true, bs: true, counts: false });
      const { passkeyId } = await userWithPasskey(authn);
      for (let i = 0; i < 3; i += 1) assert.equal((await finishLogin(authn.authenticate(await loginOptions()))).statusCode, 200);
      assert.equal((await t.store.passkeys.findById(passkeyId))?.counter, 0);
    });

    it('refuses a change of backup eligibility', async () => {
      const { id, authn } = await userWithPasskey();
      const res = await finishLogin(authn.authenticate(await loginOptions(), { be: true, bs: true }));
      assert.equal(res.statusCode, 401);
      assert.ok((await auditTypes(id)).includes('passkey.rejected'));
    });

    it('refuses a response whose user handle names someone else', async () => {
      const { authn } = await userWithPasskey();
      const res = await finishLogin(authn.authenticate(await loginOptions(), { userHandle: Buffer.from('0123456789abcdef01234567').toString('base64url') }));
      assert.equal(res.json().code, 'PASSKEY_INVALID');
    });

    it('refuses an unknown credential', async () => {
      const stranger = createSoftAuthenticator({ origin: ORIGIN, rpId: RP_ID });
      stranger.register({ challenge: 'x', rp: { id: RP_ID }, user: { id: 'eA' } });
      const res = await finishLogin(stranger.authenticate(await loginOptions()));
      assert.equal(res.statusCode, 401);
      assert.equal(res.json().code, 'PASSKEY_INVALID');
    });

    it('refuses a disabled account', async () => {
      const { id, authn } = await userWithPasskey();
      await t.store.updateUser(id, { disabled: true });
      const res = await finishLogin(authn.authenticate(await loginOptions()));
      assert.equal(res.statusCode, 403);
      assert.equal(res.json().code, 'ACCOUNT_DISABLED');
    });

    it('refuses a locked account (the lock of failed passwords)', async () => {
      const { authn, body } = await userWithPasskey();
      for (let i = 0; i < 5; i += 1) await post('/auth/login', { email: body.email, password: 'wrong password!' });
      const res = await finishLogin(authn.authenticate(await loginOptions()));
      assert.equal(res.statusCode, 429);
      assert.equal(res.json().code, 'ACCOUNT_LOCKED');
    });

    it('signs a TOTP user in without a code: a user-verified passkey is both factors', async () => {
      const { token, authn, body } = await userWithPasskey();
      const setup = await post('/auth/2fa/totp/setup', { password: body.password }, token);
      const totp = new TOTP({ secret: Secret.fromBase32(setup.json().secret) });
      assert.equal((await post('/auth/2fa/totp/confirm', { code: totp.generate() }, token)).statusCode, 200);
      const password = await post('/auth/login', { email: body.email, password: body.password });
      assert.equal(password.json().code, 'MFA_REQUIRED');
      const res = await finishLogin(authn.authenticate(await loginOptions()));
      assert.equal(res.statusCode, 200, res.body);
      assert.ok(res.json().access_token);
    });
  });

  describe('management', () => {
    it('renames and deletes only your own passkeys', async () => {
      const alice = await userWithPasskey();
      const bob = await signUp(t.app);
      const url = `/auth/passkeys/${alice.passkeyId}`;
      const theft = await t.app.inject({ method: 'PATCH', url, payload: { name: 'mine' }, headers: bearer(bob.token) });
      assert.equal(theft.statusCode, 404);
      assert.equal(theft.json().code, 'PASSKEY_NOT_FOUND');
      assert.equal((await t.app.inject({ method: 'DELETE', url, headers: bearer(bob.token) })).statusCode, 404);
      const renamed = await t.app.inject({ method: 'PATCH', url, payload: { name: ' Phone ' }, headers: bearer(alice.token) });
      assert.equal(renamed.json().name, 'Phone');
      const blank = await t.app.inject({ method: 'PATCH', url, payload: { name: '   ' }, headers: bearer(alice.token) });
      assert.equal(blank.statusCode, 422);
      const deleted = await t.app.inject({ method: 'DELETE', url, headers: bearer(alice.token) });
      assert.equal(deleted.statusCode, 204);
      assert.ok((await auditTypes(alice.id)).includes('passkey.removed'));
      // A deleted passkey no longer signs in.
      const res = await finishLogin(alice.authn.authenticate(await loginOptions()));
      assert.equal(res.json().code, 'PASSKEY_INVALID');
    });

    it('refuses to delete the last way to sign in (no password, one passkey); a second passkey makes it possible', async () => {
      const user = await userWithPasskey();
      await t.store.updateUser(user.id, { passwordHash: '' });
      const url = `/auth/passkeys/${user.passkeyId}`;
      const res = await t.app.inject({ method: 'DELETE', url, headers: bearer(user.token) });
      assert.equal(res.statusCode, 409);
      assert.equal(res.json().code, 'LAST_SIGN_IN_METHOD');
      const second = createSoftAuthenticator({ origin: ORIGIN, rpId: RP_ID });
      const added = await post('/auth/passkeys/register/finish', { name: 'Phone', response: second.register(await beginRegistration(user.token)) }, user.token);
      assert.equal(added.statusCode, 201);
      assert.equal((await t.app.inject({ method: 'DELETE', url, headers: bearer(user.token) })).statusCode, 204);
    });

    it("lets an admin list and remove a user's passkeys, audited with the admin as actor", async () => {
      const admin = await signUpAdmin(t);
      const user = await userWithPasskey();
      const student = await signUp(t.app);
      const list = await t.app.inject({ url: `/users/${user.id}/passkeys`, headers: bearer(admin.token) });
      assert.deepEqual(list.json().map((p: { id: string }) => p.id), [user.passkeyId]);
      assert.equal((await t.app.inject({ url: `/users/${user.id}/passkeys`, headers: bearer(student.token) })).statusCode, 403);
      const url = `/users/${user.id}/passkeys/${user.passkeyId}`;
      assert.equal((await t.app.inject({ method: 'DELETE', url, headers: bearer(student.token) })).statusCode, 403);
      assert.equal((await t.app.inject({ method: 'DELETE', url, headers: bearer(admin.token) })).statusCode, 204);
      const removed = (await t.store.audit.list({ limit: 5, userId: user.id, type: 'passkey.removed' }))[0];
      assert.equal(removed?.actorId, admin.id);
      assert.equal((await t.app.inject({ url: '/users/0123456789abcdef01234567/passkeys', headers: bearer(admin.token) })).statusCode, 404);
    });
  });
});

describe('passkey rate limits', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ RATE_LIMIT_PASSKEY_LOGIN_PER_IP: '2', RATE_LIMIT_PASSKEY_MANAGE_PER_USER: '2' });
  });
  after(async () => {
    await t.close();
  });

  it('limits passkey sign-in per IP (begin and finish share the count) and management per user', async () => {
    const begin = () => t.app.inject({ method: 'POST', url: '/auth/passkeys/login/begin', payload: {} });
    assert.equal((await begin()).statusCode, 200);
    assert.equal((await begin()).statusCode, 200);
    const limited = await t.app.inject({ method: 'POST', url: '/auth/passkeys/login/finish', payload: {} });
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.json().code, 'RATE_LIMITED');
    const { token } = await signUp(t.app);
    const manage = () => t.app.inject({ method: 'POST', url: '/auth/passkeys/register/begin', payload: {}, headers: bearer(token) });
    assert.equal((await manage()).statusCode, 200);
    assert.equal((await manage()).statusCode, 200);
    assert.equal((await manage()).statusCode, 429);
  });
});
