/**
 * POST /users/me/email: a user moves their own account to another address. Mail goes through a
 * real SMTP server on 127.0.0.1; the verification link and the notice are read back from it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { maskEmail } from '../../src/auth/recovery/account-mails.js';
import { bearer, buildTestApp, newUserBody, signUp, type TestApp } from '../helpers/app.js';
import { startSmtpListener, type SmtpListener } from '../helpers/smtp-listener.js';

const TOKEN_RE = /token: ([A-Za-z0-9_-]{43})$/m;

describe('POST /users/me/email', () => {
  let t: TestApp;
  let smtp: SmtpListener;
  before(async () => {
    smtp = await startSmtpListener();
    // The per-user limit of re-authentications is lifted: the account's lock is tested here, the limit elsewhere.
    t = await buildTestApp({ SMTP_URL: smtp.url, PUBLIC_URL: 'https://app.example.test', RATE_LIMIT_REAUTH_PER_USER: '1000' });
  });
  after(async () => {
    await t.close();
    await smtp.close();
  });

  const post = (url: string, payload: Record<string, unknown> | undefined, token?: string) =>
    t.app.inject({ method: 'POST', url, ...(payload === undefined ? {} : { payload }), headers: token === undefined ? {} : bearer(token) });
  const changeEmail = (token: string, email: unknown, password: unknown) => post('/users/me/email', { email, password }, token);
  const loginStatus = async (email: string, password: string) => (await post('/auth/login', { email, password })).statusCode;
  const tokenIn = (text: string) => {
    const match = TOKEN_RE.exec(text);
    assert.ok(match, `a token in the mail:\n${text}`);
    return match[1] as string;
  };

  it('moves the account to the new address, unverified, mails a link there and a notice to the old one', async () => {
    const a = await signUp(t.app);
    await t.store.updateUser(a.id, { emailVerified: true });
    const next = newUserBody().email;
    const res = await changeEmail(a.token, next, a.body.password);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().email, next);
    assert.equal(res.json().email_verified, false, 'nobody has proved they read the new address yet');

    assert.equal((await t.app.inject({ url: '/users/me', headers: bearer(a.token) })).json().email, next, 'the session goes on');
    assert.equal(await loginStatus(next, a.body.password), 200);
    assert.equal(await loginStatus(a.body.email, a.body.password), 401, 'the old address signs in no more');

    const notice = await smtp.next(a.body.email);
    assert.equal(notice.subject, 'The email address of your account was changed');
    assert.ok(notice.text.includes(maskEmail(next)), notice.text);
    assert.ok(!notice.text.includes(next), 'the old mailbox does not learn the whole new address');

    const verification = await smtp.next(next);
    const confirmed = await post('/auth/verify-email/confirm', { token: tokenIn(verification.text) });
    assert.equal(confirmed.statusCode, 200, confirmed.body);
    assert.equal(confirmed.json().email_verified, true);

    const audit = await t.store.audit.list({ limit: 5, userId: a.id, type: 'user.updated' });
    assert.equal(audit.length, 1);
    assert.deepEqual(JSON.parse(audit[0]?.detail ?? '{}'), { fields: ['email'], email_from: a.body.email, email_to: next });
  });

  it('voids the reset and verification links mailed to the old address', async () => {
    const a = await signUp(t.app);
    assert.equal((await post('/auth/verify-email/request', undefined, a.token)).statusCode, 202);
    const oldVerification = tokenIn((await smtp.next(a.body.email)).text);
    assert.equal((await post('/auth/password-reset/request', { email: a.body.email })).statusCode, 202);
    const oldReset = tokenIn((await smtp.next(a.body.email)).text);

    const next = newUserBody().email;
    assert.equal((await changeEmail(a.token, next, a.body.password)).statusCode, 200);
    await smtp.next(a.body.email); // the notice

    const verify = await post('/auth/verify-email/confirm', { token: oldVerification });
    assert.equal(verify.statusCode, 400);
    assert.equal(verify.json().code, 'INVALID_VERIFICATION_TOKEN');
    const reset = await post('/auth/password-reset/confirm', { token: oldReset, new_password: 'taken over at last' });
    assert.equal(reset.statusCode, 400);
    assert.equal(reset.json().code, 'INVALID_RESET_TOKEN');
    assert.equal(await loginStatus(next, a.body.password), 200, 'the password is unchanged');
  });

  it('refuses a wrong password with 403 INVALID_PASSWORD and changes nothing', async () => {
    const a = await signUp(t.app);
    const res = await changeEmail(a.token, newUserBody().email, 'not my password');
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().code, 'INVALID_PASSWORD');
    const stored = await t.store.findUserById(a.id);
    assert.equal(stored?.email, a.body.email);
    assert.equal(await t.store.oneTimeTokens.countForUser(a.id, 'email_verify'), 0, 'no link was mailed');
  });

  it('counts wrong passwords with the failed logins: a stolen token cannot guess without limit', async () => {
    const a = await signUp(t.app);
    for (let i = 0; i < 5; i++) assert.equal((await changeEmail(a.token, newUserBody().email, `guess ${i}`)).statusCode, 403);
    const locked = await changeEmail(a.token, newUserBody().email, a.body.password);
    assert.equal(locked.statusCode, 429);
    assert.equal(locked.json().code, 'ACCOUNT_LOCKED');
    assert.equal((await t.store.findUserById(a.id))?.email, a.body.email);
  });

  it("refuses another account's address, in any case, with 400 USER_EXISTS", async () => {
    const a = await signUp(t.app);
    const b = await signUp(t.app);
    for (const email of [b.body.email, b.body.email.toUpperCase()]) {
      const res = await changeEmail(a.token, email, a.body.password);
      assert.equal(res.statusCode, 400, email);
      assert.equal(res.json().code, 'USER_EXISTS');
    }
    assert.equal((await t.store.findUserById(a.id))?.email, a.body.email);
  });

  it('refuses the wrong password before saying whether an address is taken', async () => {
    const a = await signUp(t.app);
    const b = await signUp(t.app);
    const res = await changeEmail(a.token, b.body.email, 'not my password');
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().code, 'INVALID_PASSWORD');
  });

  it('answers 422 for an invalid address, its own address, or a missing field', async () => {
    const a = await signUp(t.app);
    for (const [email, password] of [
      ['not-an-email', a.body.password],
      ['x'.repeat(250) + '@example.com', a.body.password],
      [a.body.email, a.body.password],
      [a.body.email.toUpperCase(), a.body.password],
      [undefined, a.body.password],
      [newUserBody().email, undefined],
      [['two@example.com', 'three@example.com'], a.body.password],
    ] as const) {
      const res = await changeEmail(a.token, email, password);
      assert.equal(res.statusCode, 422, `${String(email)}: ${res.body}`);
      assert.ok(Array.isArray(res.json().detail));
    }
    assert.equal((await t.store.findUserById(a.id))?.email, a.body.email);
  });

  it('takes nothing beyond the two fields (an `email_verified` sent along is dropped)', async () => {
    const a = await signUp(t.app);
    const res = await post('/users/me/email', { email: newUserBody().email, password: a.body.password, email_verified: true }, a.token);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().email_verified, false);
  });

  it('needs a bearer token (401)', async () => {
    const res = await post('/users/me/email', { email: newUserBody().email, password: 'whatever it is' });
    assert.equal(res.statusCode, 401);
  });

  it('is limited per user with the other re-authentications', async () => {
    const limited = await buildTestApp({ RATE_LIMIT_REAUTH_PER_USER: '2' });
    try {
      const a = await signUp(limited.app);
      const send = () =>
        limited.app.inject({ method: 'POST', url: '/users/me/email', headers: bearer(a.token), payload: { email: newUserBody().email, password: 'wrong guess' } });
      assert.equal((await send()).statusCode, 403);
      assert.equal((await send()).statusCode, 403);
      const res = await send();
      assert.equal(res.statusCode, 429);
      assert.equal(res.json().code, 'RATE_LIMITED');
    } finally {
      await limited.close();
    }
  });
});
