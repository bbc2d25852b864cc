import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { normalizeRecoveryCode, recoveryCodeHash } from '../../../src/auth/totp/recovery-codes.js';
import { hashToken } from '../../../src/auth/sessions/session-service.js';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { bearer, buildTestApp, signUp, signUpAdmin, type TestApp } from '../../helpers/app.js';
import { decodePng, decodeSvg } from '../../helpers/qr-decode.js';

const STEP_MS = 30_000;
const RECOVERY_CODE_RE = /^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/;

/** The code an authenticator app shows now, or `steps` time steps from now (the window takes ±1). */
function codeFor(secret: string, steps = 0): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() + steps * STEP_MS });
}

/** Six digits that no step within two of now accepts: certainly a wrong code. */
function wrongCode(secret: string): string {
  const valid = new Set([-2, -1, 0, 1, 2].map((s) => codeFor(secret, s)));
  for (let n = 0; ; n += 1) {
    const candidate = String(n).padStart(6, '0');
    if (!valid.has(candidate)) return candidate;
  }
}

type Account = Awaited<ReturnType<typeof signUp>>;

describe('TOTP second factor', () => {
  let t: TestApp;
  before(async () => {
    // The per-user limits are lifted: the account's lock is what these tests are about (the limits
    // have their own tests in test/http/rate-limits.test.ts).
    t = await buildTestApp({ RATE_LIMIT_MFA_PER_USER: '1000', RATE_LIMIT_REAUTH_PER_USER: '1000' });
  });
  after(() => t.close());

  const post = (url: string, payload: Record<string, unknown> | undefined, token?: string) =>
    t.app.inject({ method: 'POST', url, ...(payload === undefined ? {} : { payload }), headers: token ? bearer(token) : {} });

  const setup = (account: Account, password = account.body.password) =>
    post('/auth/2fa/totp/setup', { password }, account.token);

  /** Setup and confirm with the current code (its step is then used up): the secret and recovery codes. */
  async function enable(account: Account): Promise<{ secret: string; recoveryCodes: string[] }> {
    const started = await setup(account);
    assert.equal(started.statusCode, 200, started.body);
    const secret = started.json().secret as string;
    const confirmed = await post('/auth/2fa/totp/confirm', { code: codeFor(secret) }, account.token);
    assert.equal(confirmed.statusCode, 200, confirmed.body);
    return { secret, recoveryCodes: confirmed.json().recovery_codes };
  }

  const passwordLogin = (account: Account) =>
    t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: account.body.email, password: account.body.password } });

  /** Logs in with the password and expects the MFA challenge: its mfa_token. */
  async function challenge(account: Account): Promise<string> {
    const res = await passwordLogin(account);
    assert.equal(res.statusCode, 401, res.body);
    assert.equal(res.json().code, 'MFA_REQUIRED');
    return res.json().mfa_token as string;
  }

  const verify = (mfaToken: string, code: string) => post('/auth/2fa/verify', { mfa_token: mfaToken, code });

  async function auditTypes(userId: string): Promise<string[]> {
    return (await t.store.audit.list({ limit: 100, userId })).map((e) => e.type);
  }

  describe('POST /auth/2fa/totp/setup and /confirm', () => {
    it('returns the secret, its otpauth:// URI and the URI as PNG and SVG QR codes, never cached', async () => {
      const account = await signUp(t.app);
      const res = await setup(account);
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['cache-control'], 'no-store');
      const body = res.json();
      assert.match(body.secret, /^[A-Z2-7]{32}$/, '20 random bytes in base32');
      const url = new URL(body.otpauth_url);
      assert.equal(url.protocol, 'otpauth:');
      assert.equal(url.host, 'totp');
      assert.equal(decodeURIComponent(url.pathname), `/Auth QR Service:${account.body.email}`);
      assert.equal(url.searchParams.get('secret'), body.secret);
      assert.equal(url.searchParams.get('issuer'), 'Auth QR Service');
      assert.equal(decodePng(Buffer.from(body.qr_png_base64, 'base64')).text, body.otpauth_url);
      assert.equal(decodeSvg(body.qr_svg).text, body.otpauth_url);
    });

    it('is not in force until confirmed; setting up again replaces the pending secret', async () => {
      const account = await signUp(t.app);
      const first = (await setup(account)).json().secret as string;
      assert.equal((await passwordLogin(account)).statusCode, 200, 'an unconfirmed secret does not ask for a code');
      const second = (await setup(account)).json().secret as string;
      assert.notEqual(second, first);
      const stale = await post('/auth/2fa/totp/confirm', { code: codeFor(first) }, account.token);
      assert.equal(stale.statusCode, 403);
      assert.equal(stale.json().code, 'INVALID_MFA_CODE');
      const ok = await post('/auth/2fa/totp/confirm', { code: codeFor(second) }, account.token);
      assert.equal(ok.statusCode, 200);
    });

    it('turns TOTP on and returns 10 distinct recovery codes, stored only as per-user hashes', async () => {
      const account = await signUp(t.app);
      const { recoveryCodes } = await enable(account);
      assert.equal(recoveryCodes.length, 10);
      assert.equal(new Set(recoveryCodes).size, 10);
      for (const code of recoveryCodes) assert.match(code, RECOVERY_CODE_RE);
      const user = await t.store.findUserById(account.id);
      assert.equal(user?.totpEnabled, true);
      assert.equal(await t.store.oneTimeTokens.countForUser(account.id, 'recovery'), 10);
      const code = recoveryCodes[0] as string;
      const now = new Date();
      assert.equal(await t.store.oneTimeTokens.find(code, 'recovery', now), null, 'not stored as typed');
      assert.equal(await t.store.oneTimeTokens.find(hashToken(normalizeRecoveryCode(code) as string), 'recovery', now), null);
      assert.notEqual(
        await t.store.oneTimeTokens.find(recoveryCodeHash(account.id, normalizeRecoveryCode(code) as string), 'recovery', now),
        null,
      );
      assert.ok((await auditTypes(account.id)).includes('mfa.enabled'));
    });

    it('refuses a wrong code and leaves TOTP off', async () => {
      const account = await signUp(t.app);
      const secret = (await setup(account)).json().secret as string;
      const res = await post('/auth/2fa/totp/confirm', { code: wrongCode(secret) }, account.token);
      assert.equal(res.statusCode, 403);
      assert.equal(res.json().code, 'INVALID_MFA_CODE');
      assert.equal((await t.store.findUserById(account.id))?.totpEnabled, false);
    });

    it('counts wrong confirm codes: the fifth locks, and then even the right code waits', async () => {
      const account = await signUp(t.app);
      const secret = (await setup(account)).json().secret as string;
      for (let i = 0; i < 5; i++) {
        const res = await post('/auth/2fa/totp/confirm', { code: wrongCode(secret) }, account.token);
        assert.equal(res.statusCode, 403, `attempt ${i + 1}`);
      }
      const locked = await post('/auth/2fa/totp/confirm', { code: codeFor(secret) }, account.token);
      assert.equal(locked.statusCode, 429);
      assert.equal(locked.json().code, 'ACCOUNT_LOCKED');
      assert.equal((await t.store.findUserById(account.id))?.totpEnabled, false);
    });

    it('lets at most 5 of 20 racing wrong passwords at setup be checked, and stores no secret', async () => {
      const account = await signUp(t.app);
      const answers = await Promise.all(Array.from({ length: 20 }, () => setup(account, 'not-the-password')));
      const checked = answers.filter((a) => a.statusCode === 403).length;
      assert.ok(checked <= 5, `${checked} passwords were checked`);
      assert.equal(answers.filter((a) => a.statusCode === 429).length, 20 - checked, 'the rest: locked');
      assert.equal((await t.store.findUserById(account.id))?.totpSecret, null);
    });

    it('lets at most 5 of 20 racing wrong confirm codes be checked', async () => {
      const account = await signUp(t.app);
      const secret = (await setup(account)).json().secret as string;
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => post('/auth/2fa/totp/confirm', { code: wrongCode(secret) }, account.token)),
      );
      const checked = answers.filter((a) => a.json().code === 'INVALID_MFA_CODE').length;
      assert.ok(checked <= 5, `${checked} codes were checked`);
      assert.equal(answers.filter((a) => a.statusCode === 429).length, 20 - checked, 'the rest: locked');
      assert.equal((await t.store.findUserById(account.id))?.totpEnabled, false);
    });

    it('answers 409 to setup or confirm while TOTP is on, and to confirm before any setup', async () => {
      const fresh = await signUp(t.app);
      const early = await post('/auth/2fa/totp/confirm', { code: '123456' }, fresh.token);
      assert.equal(early.statusCode, 409);
      assert.equal(early.json().code, 'TOTP_NOT_SET_UP');

      const account = await signUp(t.app);
      const { secret } = await enable(account);
      const again = await setup(account);
      assert.equal(again.statusCode, 409);
      assert.equal(again.json().code, 'TOTP_ALREADY_ENABLED');
      const reconfirm = await post('/auth/2fa/totp/confirm', { code: codeFor(secret, 1) }, account.token);
      assert.equal(reconfirm.statusCode, 409);
      assert.equal((await t.store.findUserById(account.id))?.totpSecret, secret, 'the secret in force is untouched');
    });

    it('asks for the password again: a stolen access token alone cannot enrol another phone', async () => {
      const account = await signUp(t.app);
      const wrong = await setup(account, 'not-the-password');
      assert.equal(wrong.statusCode, 403);
      assert.equal((await t.store.findUserById(account.id))?.totpSecret, null, 'no secret stored');
      for (let i = 0; i < 4; i++) assert.equal((await setup(account, 'still-not-it')).statusCode, 403);
      assert.equal((await setup(account)).statusCode, 429, 'five wrong passwords lock it, as logins do');
      t.advance(1100);
      const missing = await post('/auth/2fa/totp/setup', {}, account.token);
      assert.equal(missing.statusCode, 422);
      assert.equal((await setup(account)).statusCode, 200);
    });

    it('needs a bearer token', async () => {
      assert.equal((await post('/auth/2fa/totp/setup', { password: 'whatever-1' })).statusCode, 401);
      assert.equal((await post('/auth/2fa/totp/confirm', { code: '123456' })).statusCode, 401);
    });
  });

  describe('login with TOTP on: POST /auth/2fa/verify', () => {
    it('completes the login: password -> 401 MFA_REQUIRED with an mfa_token -> code -> tokens that work', async () => {
      const account = await signUp(t.app);
      const { secret } = await enable(account);
      const mfaToken = await challenge(account);
      assert.match(mfaToken, /^[A-Za-z0-9_-]{43}$/);
      const res = await verify(mfaToken, codeFor(secret, 1));
      assert.equal(res.statusCode, 200, res.body);
      const pair = res.json();
      assert.equal(pair.token_type, 'bearer');
      assert.equal(typeof pair.refresh_token, 'string');
      const me = await t.app.inject({ url: '/users/me', headers: bearer(pair.access_token) });
      assert.equal(me.statusCode, 200);
      assert.equal(me.json().id, account.id);
      const types = await auditTypes(account.id);
      assert.ok(types.includes('mfa.succeeded'));
      assert.ok(types.includes('login.succeeded'));
      // The challenge is used up.
      assert.equal((await verify(mfaToken, codeFor(secret, 1))).json().code, 'INVALID_MFA_TOKEN');
    });

    it('asks for the second factor on the OAuth2 form login too', async () => {
      const account = await signUp(t.app);
      await enable(account);
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ username: account.body.email, password: account.body.password }).toString(),
      });
      assert.equal(res.statusCode, 401);
      assert.equal(res.json().code, 'MFA_REQUIRED');
      assert.match(res.json().mfa_token, /^[A-Za-z0-9_-]{43}$/);
    });

    it('refuses a code twice, even across two logins within one time step', async () => {
      const account = await signUp(t.app);
      const { secret } = await enable(account);
      const code = codeFor(secret, 1);
      assert.equal((await verify(await challenge(account), code)).statusCode, 200);
      const replay = await verify(await challenge(account), code);
      assert.equal(replay.statusCode, 403);
      assert.equal(replay.json().code, 'INVALID_MFA_CODE');
      const failed = await t.store.audit.list({ limit: 10, userId: account.id, type: 'mfa.failed' });
      assert.equal(JSON.parse(failed[0]?.detail ?? '{}').reason, 'replay');
    });

    it('accepts a code one step early or late (clock drift), and none further off', async () => {
      const account = await signUp(t.app);
      const secret = (await setup(account)).json().secret as string;
      for (const steps of [-3, -2, 2, 3]) {
        const res = await post('/auth/2fa/totp/confirm', { code: codeFor(secret, steps) }, account.token);
        // A code two steps off can coincide with a valid one (one in a million); then it is right.
        if ([-1, 0, 1].some((near) => codeFor(secret, near) === codeFor(secret, steps))) continue;
        assert.equal(res.statusCode, 403, `${steps} steps off`);
      }
      assert.equal((await post('/auth/2fa/totp/confirm', { code: codeFor(secret, -1) }, account.token)).statusCode, 200);
      const late = await signUp(t.app);
      const lateSecret = (await setup(late)).json().secret as string;
      assert.equal((await post('/auth/2fa/totp/confirm', { code: codeFor(lateSecret, 1) }, late.token)).statusCode, 200);
    });

    it('does not accept the code that turned TOTP on as a login code', async () => {
      const account = await signUp(t.app);
      const started = (await setup(account)).json().secret as string;
      const code = codeFor(started);
      assert.equal((await post('/auth/2fa/totp/confirm', { code }, account.token)).statusCode, 200);
      const res = await verify(await challenge(account), code);
      assert.equal(res.statusCode, 403);
      assert.equal(res.json().code, 'INVALID_MFA_CODE');
    });

    it('lets only one of two racing logins through with one code', async () => {
      const account = await signUp(t.app);
      const { secret } = await enable(account);
      const tokens = [await challenge(account), await challenge(account), await challenge(account)];
      const code = codeFor(secret, 1);
      const answers = await Promise.all(tokens.map((mfaToken) => verify(mfaToken, code)));
      assert.deepEqual(answers.map((a) => a.statusCode).sort(), [200, 403, 403]);
    });

    it('takes 5 wrong codes per challenge, then the challenge is gone', async () => {
      const account = await signUp(t.app);
      const { secret } = await enable(account);
      const mfaToken = await challenge(account);
      const bad = wrongCode(secret);
      for (const left of [4, 3, 2, 1, 0]) {
        const res = await verify(mfaToken, bad);
        assert.equal(res.statusCode, 403);
        assert.equal(res.json().code, 'INVALID_MFA_CODE');
        assert.equal(res.json().attempts_left, left);
      }
      const late = await verify(mfaToken, codeFor(secret, 1));
      assert.equal(late.statusCode, 401, 'even the right code is too late');
      assert.equal(late.json().code, 'INVALID_MFA_TOKEN');
      assert.equal((await auditTypes(account.id)).filter((type) => type === 'mfa.failed').length, 5);
      const lockedNow = await passwordLogin(account);
      assert.equal(lockedNow.statusCode, 429, 'each wrong code is a failed attempt of the account: five lock it');
    });

    it('locks the account after repeated wrong codes, and a correct password does not lift the count', async () => {
      const account = await signUp(t.app);
      const { secret } = await enable(account);
      const bad = wrongCode(secret);
      const first = await challenge(account);
      for (let i = 0; i < 5; i += 1) assert.equal((await verify(first, bad)).statusCode, 403);
      const locked = await passwordLogin(account);
      assert.equal(locked.statusCode, 429, 'five wrong codes lock the account, its password step included');
      assert.equal(locked.json().code, 'ACCOUNT_LOCKED');

      // The lock runs out; whoever has the password gets a new challenge, but the count goes on:
      // the next wrong code locks again, for longer (2 s), and then no code is checked at all.
      t.advance(1100);
      const second = await challenge(account);
      assert.equal((await verify(second, bad)).statusCode, 403);
      const refused = await verify(second, codeFor(secret, 1));
      assert.equal(refused.statusCode, 429, 'while locked no code is checked, not even the right one');
      assert.equal(refused.json().code, 'ACCOUNT_LOCKED');
      assert.equal(refused.headers['retry-after'], '2');

      // After the lock the challenge is still there, and the right code resets the count.
      t.advance(2100);
      assert.equal((await verify(second, codeFor(secret, 1))).statusCode, 200);
      const third = await challenge(account);
      for (let i = 0; i < 4; i += 1) assert.equal((await verify(third, bad)).statusCode, 403, 'the count started again');
    });

    it('lets at most 5 of 30 racing wrong codes be checked', async () => {
      const account = await signUp(t.app);
      const { secret } = await enable(account);
      const challenges: string[] = [];
      for (let i = 0; i < 6; i++) challenges.push(await challenge(account));
      const bad = wrongCode(secret);
      const answers = await Promise.all(challenges.flatMap((mfaToken) => Array.from({ length: 5 }, () => verify(mfaToken, bad))));
      const checked = answers.filter((a) => a.json().code === 'INVALID_MFA_CODE').length;
      assert.ok(checked <= 5, `${checked} codes were checked`);
      // The rest: 429 (locked), or 401 (the challenge was taken by a concurrent request at that moment).
      assert.ok(answers.every((a) => [401, 403, 429].includes(a.statusCode)));
    });

    it('refuses an unknown, malformed or expired mfa_token', async () => {
      const unknown = await verify(randomBytes(32).toString('base64url'), '123456');
      assert.equal(unknown.statusCode, 401);
      assert.equal(unknown.json().code, 'INVALID_MFA_TOKEN');
      const malformed = await verify('not-a-token', '123456');
      assert.equal(malformed.statusCode, 401);
      assert.equal(malformed.json().code, 'INVALID_MFA_TOKEN');

      const account = await signUp(t.app);
      const { secret } = await enable(account);
      const mfaToken = await challenge(account);
      // Age the challenge past its 5 minutes.
      const stored = await t.store.oneTimeTokens.consume(hashToken(mfaToken), 'mfa', new Date());
      assert.ok(stored);
      await t.store.oneTimeTokens.insert({ ...stored, expiresAt: new Date(Date.now() - 1000) });
      const expired = await verify(mfaToken, codeFor(secret, 1));
      assert.equal(expired.statusCode, 401);
      assert.equal(expired.json().code, 'INVALID_MFA_TOKEN');
    });

    it('accepts a recovery code once and only once', async () => {
      const account = await signUp(t.app);
      const { recoveryCodes } = await enable(account);
      const code = recoveryCodes[3] as string;
      // Case and dashes do not matter to a person typing it.
      const ok = await verify(await challenge(account), code.toUpperCase().replace(/-/g, ' '));
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(await t.store.oneTimeTokens.countForUser(account.id, 'recovery'), 9);
      const succeeded = await t.store.audit.list({ limit: 1, userId: account.id, type: 'mfa.succeeded' });
      assert.deepEqual(JSON.parse(succeeded[0]?.detail ?? '{}'), { method: 'recovery', recovery_codes_left: 9 });
      const again = await verify(await challenge(account), code);
      assert.equal(again.statusCode, 403);
      assert.equal(again.json().code, 'INVALID_MFA_CODE');
    });

    it("does not accept another user's recovery code", async () => {
      const alice = await signUp(t.app);
      const bob = await signUp(t.app);
      const alices = await enable(alice);
      await enable(bob);
      const code = alices.recoveryCodes[0] as string;
      const stolen = await verify(await challenge(bob), code);
      assert.equal(stolen.statusCode, 403);
      assert.equal(stolen.json().code, 'INVALID_MFA_CODE');
      assert.equal((await verify(await challenge(alice), code)).statusCode, 200, "still good for its owner");
    });

    it('refuses a user disabled since the password step', async () => {
      const account = await signUp(t.app);
      const { secret } = await enable(account);
      const mfaToken = await challenge(account);
      await t.store.updateUser(account.id, { disabled: true });
      const res = await verify(mfaToken, codeFor(secret, 1));
      assert.equal(res.statusCode, 403);
      assert.equal(res.json().code, 'ACCOUNT_DISABLED');
    });

    it('validates the body (422)', async () => {
      const res = await post('/auth/2fa/verify', { mfa_token: 'x' });
      assert.equal(res.statusCode, 422);
      assert.deepEqual(res.json().detail[0].loc, ['body', 'code']);
    });
  });

  describe('POST /auth/2fa/totp/disable', () => {
    it('needs both the password and a code', async () => {
      const account = await signUp(t.app);
      const { secret } = await enable(account);
      const disable = (payload: Record<string, unknown>) => post('/auth/2fa/totp/disable', payload, account.token);

      assert.equal((await disable({ password: account.body.password })).statusCode, 422);
      const wrongPassword = await disable({ password: 'not the password', code: codeFor(secret, 1) });
      assert.equal(wrongPassword.statusCode, 403);
      assert.equal(wrongPassword.json().code, 'INVALID_PASSWORD');
      const badCode = await disable({ password: account.body.password, code: wrongCode(secret) });
      assert.equal(badCode.statusCode, 403);
      assert.equal(badCode.json().code, 'INVALID_MFA_CODE');
      assert.equal((await t.store.findUserById(account.id))?.totpEnabled, true);

      const ok = await disable({ password: account.body.password, code: codeFor(secret, 1) });
      assert.equal(ok.statusCode, 204, ok.body);
      const user = await t.store.findUserById(account.id);
      assert.equal(user?.totpEnabled, false);
      assert.equal(user?.totpSecret, null);
      assert.equal(await t.store.oneTimeTokens.countForUser(account.id, 'recovery'), 0);
      assert.equal((await passwordLogin(account)).statusCode, 200, 'the password alone logs in again');
      assert.ok((await auditTypes(account.id)).includes('mfa.disabled'));
    });

    it('lets at most 5 of 20 racing wrong disable attempts be checked, and TOTP stays on', async () => {
      const account = await signUp(t.app);
      const { secret } = await enable(account);
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => post('/auth/2fa/totp/disable', { password: account.body.password, code: wrongCode(secret) }, account.token)),
      );
      const checked = answers.filter((a) => a.statusCode === 403).length;
      assert.ok(checked <= 5, `${checked} attempts were checked`);
      assert.equal(answers.filter((a) => a.statusCode === 429).length, 20 - checked, 'the rest: locked');
      assert.equal((await t.store.findUserById(account.id))?.totpEnabled, true);
    });

    it('ends every other session, as a password change does; this one refreshes on', async () => {
      const account = await signUp(t.app);
      const { secret } = await enable(account);
      const pairOf = async () => {
        const mfa = await challenge(account);
        await t.store.updateUser(account.id, { totpLastStep: 0 });
        const res = await verify(mfa, codeFor(secret, -1));
        assert.equal(res.statusCode, 200, res.body);
        return res.json() as { access_token: string; refresh_token: string };
      };
      const here = await pairOf();
      const elsewhere = await pairOf();
      await t.store.updateUser(account.id, { totpLastStep: 0 });
      const res = await post('/auth/2fa/totp/disable', { password: account.body.password, code: codeFor(secret, 1) }, here.access_token);
      assert.equal(res.statusCode, 204, res.body);
      const refresh = (token: string) => t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: token } });
      assert.equal((await t.app.inject({ url: '/users/me', headers: bearer(elsewhere.access_token) })).statusCode, 401);
      assert.equal((await refresh(elsewhere.refresh_token)).statusCode, 401, 'the other session is over');
      const renewed = await refresh(here.refresh_token);
      assert.equal(renewed.statusCode, 200, 'this one goes on');
      assert.equal((await t.app.inject({ url: '/users/me', headers: bearer(renewed.json().access_token) })).statusCode, 200);
    });

    it('takes a recovery code instead of a TOTP code', async () => {
      const account = await signUp(t.app);
      const { recoveryCodes } = await enable(account);
      const res = await post(
        '/auth/2fa/totp/disable',
        { password: account.body.password, code: recoveryCodes[0] },
        account.token,
      );
      assert.equal(res.statusCode, 204);
    });

    it('answers 409 when TOTP is not on', async () => {
      const account = await signUp(t.app);
      const res = await post('/auth/2fa/totp/disable', { password: account.body.password, code: '123456' }, account.token);
      assert.equal(res.statusCode, 409);
      assert.equal(res.json().code, 'TOTP_NOT_ENABLED');
    });
  });

  describe('POST /auth/2fa/recovery-codes', () => {
    it('replaces the recovery codes against a current TOTP code', async () => {
      const account = await signUp(t.app);
      const { secret, recoveryCodes: old } = await enable(account);
      const refused = await post('/auth/2fa/recovery-codes', { code: old[0] }, account.token);
      assert.equal(refused.statusCode, 403, 'a recovery code cannot mint new ones');
      const res = await post('/auth/2fa/recovery-codes', { code: codeFor(secret, 1) }, account.token);
      assert.equal(res.statusCode, 200, res.body);
      const fresh = res.json().recovery_codes as string[];
      assert.equal(fresh.length, 10);
      assert.equal(await t.store.oneTimeTokens.countForUser(account.id, 'recovery'), 10);
      assert.equal((await verify(await challenge(account), old[1] as string)).statusCode, 403, 'the old codes are gone');
      assert.equal((await verify(await challenge(account), fresh[0] as string)).statusCode, 200);
    });
  });

  describe('DELETE /users/{user_id}/2fa', () => {
    it("lets an admin reset a user's TOTP and recovery codes", async () => {
      const admin = await signUpAdmin(t);
      const account = await signUp(t.app);
      await enable(account);
      const res = await t.app.inject({ method: 'DELETE', url: `/users/${account.id}/2fa`, headers: bearer(admin.token) });
      assert.equal(res.statusCode, 204, res.body);
      assert.equal((await t.app.inject({ url: '/users/me', headers: bearer(account.token) })).statusCode, 401, 'every session of the user ended');
      assert.deepEqual(await t.store.sessions.listActive(account.id, new Date()), []);
      const user = await t.store.findUserById(account.id);
      assert.equal(user?.totpEnabled, false);
      assert.equal(user?.totpSecret, null);
      assert.equal(await t.store.oneTimeTokens.countForUser(account.id, 'recovery'), 0);
      const again = await passwordLogin(account);
      assert.equal(again.statusCode, 200);
      const [reset] = await t.store.audit.list({ limit: 1, userId: account.id, type: 'mfa.reset' });
      assert.equal(reset?.actorId, admin.id);
      const signedInAgain = { ...account, token: again.json().access_token as string };
      assert.equal((await setup(signedInAgain)).statusCode, 200, 'the user can set it up again');
    });

    it('is for admins only, and 404 for an unknown user', async () => {
      const admin = await signUpAdmin(t);
      const student = await signUp(t.app);
      const victim = await signUp(t.app);
      await enable(victim);
      const res = await t.app.inject({ method: 'DELETE', url: `/users/${victim.id}/2fa`, headers: bearer(student.token) });
      assert.equal(res.statusCode, 403);
      assert.equal(res.json().code, 'ADMIN_REQUIRED');
      assert.equal((await t.store.findUserById(victim.id))?.totpEnabled, true);
      const missing = await t.app.inject({ method: 'DELETE', url: `/users/${'0'.repeat(24)}/2fa`, headers: bearer(admin.token) });
      assert.equal(missing.statusCode, 404);
    });
  });

  it('documents every endpoint in the OpenAPI document', async () => {
    const paths = (await t.app.inject({ url: '/openapi.json' })).json().paths;
    for (const path of ['/auth/2fa/totp/setup', '/auth/2fa/totp/confirm', '/auth/2fa/verify', '/auth/2fa/totp/disable', '/auth/2fa/recovery-codes']) {
      assert.ok(paths[path]?.post, path);
    }
    assert.ok(paths['/users/{user_id}/2fa']?.delete);
  });
});

describe('TOTP_ISSUER', () => {
  it('names the issuer in the otpauth:// URI', async () => {
    const t = await buildTestApp({ TOTP_ISSUER: 'Springfield High' });
    try {
      const account = await signUp(t.app);
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/2fa/totp/setup',
        headers: bearer(account.token),
        payload: { password: account.body.password },
      });
      const url = new URL(res.json().otpauth_url);
      assert.equal(url.searchParams.get('issuer'), 'Springfield High');
      assert.equal(decodeURIComponent(url.pathname), `/Springfield High:${account.body.email}`);
    } finally {
      await t.close();
    }
  });

  it("refuses an issuer with ':', which would split the URI's label", () => {
    assert.throws(() => loadConfig({ TOTP_ISSUER: 'Acme: Auth' }), (error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.problems.join('\n'), /TOTP_ISSUER/);
      return true;
    });
  });
});
