/**
 * Password change, password reset and email verification, end to end: mail goes through nodemailer
 * to a real SMTP server on 127.0.0.1 and the tokens are read back from the mails received.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashToken } from '../../../src/auth/sessions/session-service.js';
import type { OneTimePurpose } from '../../../src/store/store.js';
import { bearer, buildTestApp, newUserBody, register, signUp, signUpAdmin, type TestApp } from '../../helpers/app.js';
import { startSmtpListener, type SmtpListener } from '../../helpers/smtp-listener.js';

const PUBLIC_URL = 'https://app.example.test';
const TOKEN_RE = /token: ([A-Za-z0-9_-]{43})$/m;

interface Pair {
  access_token: string;
  refresh_token: string;
}

describe('password and email flows (mail through a real SMTP server)', () => {
  let t: TestApp;
  let smtp: SmtpListener;
  before(async () => {
    smtp = await startSmtpListener();
    t = await buildTestApp({ SMTP_URL: smtp.url, MAIL_FROM: 'Accounts <accounts@example.test>', PUBLIC_URL });
  });
  after(async () => {
    await t.close();
    await smtp.close();
  });

  const post = (url: string, payload?: object, token?: string) =>
    t.app.inject({
      method: 'POST',
      url,
      ...(payload === undefined ? {} : { payload }),
      headers: token === undefined ? {} : bearer(token),
    });
  const me = (token: string) => t.app.inject({ url: '/users/me', headers: bearer(token) });
  const refresh = (token: string) => post('/auth/refresh', { refresh_token: token });
  const change = (accessToken: string, current: string, next: string) =>
    post('/users/me/password', { current_password: current, new_password: next }, accessToken);
  const confirmReset = (token: unknown, newPassword: string) =>
    post('/auth/password-reset/confirm', { token, new_password: newPassword });
  async function loginPair(email: string, password: string): Promise<Pair> {
    const res = await post('/auth/login', { email, password });
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  }
  const loginStatus = async (email: string, password: string) => (await post('/auth/login', { email, password })).statusCode;
  async function account() {
    const body = newUserBody();
    const res = await register(t.app, body);
    assert.equal(res.statusCode, 201, res.body);
    return { id: res.json().id as string, ...body };
  }
  const tokenIn = (text: string) => {
    const match = TOKEN_RE.exec(text);
    assert.ok(match, `a token in the mail:\n${text}`);
    return match[1] as string;
  };
  async function resetToken(email: string): Promise<string> {
    const res = await post('/auth/password-reset/request', { email });
    assert.equal(res.statusCode, 202, res.body);
    return tokenIn((await smtp.next(email)).text);
  }
  async function verifyToken(accessToken: string, email: string): Promise<string> {
    const res = await post('/auth/verify-email/request', undefined, accessToken);
    assert.equal(res.statusCode, 202, res.body);
    return tokenIn((await smtp.next(email)).text);
  }
  async function insertExpired(userId: string, purpose: OneTimePurpose, email: string): Promise<string> {
    const token = 'E'.repeat(11) + Math.random().toString(36).slice(2, 12).padEnd(32, 'x');
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    const now = Date.now();
    await t.store.oneTimeTokens.insert({
      hash: hashToken(token),
      purpose,
      userId,
      createdAt: new Date(now - 3_600_000),
      expiresAt: new Date(now - 1000),
      data: JSON.stringify({ email }),
    });
    return token;
  }

  describe('POST /users/me/password', () => {
    it('changes the password, keeps this session and revokes every other session and access token', async () => {
      const a = await account();
      const mine = await loginPair(a.email, a.password);
      const other = await loginPair(a.email, a.password);
      const res = await change(mine.access_token, a.password, 'a brand new password');
      assert.equal(res.statusCode, 200, res.body);
      const fresh = res.json();
      assert.deepEqual(Object.keys(fresh).sort(), ['access_token', 'expires_in', 'token_type']);
      assert.equal(fresh.token_type, 'bearer');
      assert.equal((await me(fresh.access_token)).statusCode, 200, 'the caller stays logged in');
      // A stolen access token, even of the session that made the change, is dead at once.
      assert.equal((await me(mine.access_token)).statusCode, 401);
      assert.equal((await me(other.access_token)).statusCode, 401);
      assert.equal((await refresh(other.refresh_token)).statusCode, 401, "another device's refresh token is revoked");
      assert.equal((await refresh(mine.refresh_token)).statusCode, 200, "this session's refresh token keeps working");
      assert.equal(await loginStatus(a.email, a.password), 401, 'the old password stops working');
      assert.equal(await loginStatus(a.email, 'a brand new password'), 200);
      const stored = await t.store.findUserById(a.id);
      assert.match(stored?.passwordHash ?? '', /^\$argon2id\$/);
      assert.equal((await t.store.audit.list({ limit: 5, userId: a.id, type: 'password.changed' })).length, 1);
    });

    it('refuses a wrong current password with 403 INVALID_CURRENT_PASSWORD and changes nothing', async () => {
      const a = await account();
      const pair = await loginPair(a.email, a.password);
      const res = await change(pair.access_token, 'not my password', 'attacker password');
      assert.equal(res.statusCode, 403);
      assert.equal(res.json().code, 'INVALID_CURRENT_PASSWORD');
      assert.equal((await me(pair.access_token)).statusCode, 200, 'a failed attempt revokes nothing');
      assert.equal(await loginStatus(a.email, 'attacker password'), 401);
      assert.equal(await loginStatus(a.email, a.password), 200);
    });

    it('counts wrong current passwords with failed logins: a stolen token cannot guess without limit', async () => {
      const a = await account();
      const pair = await loginPair(a.email, a.password);
      for (let i = 0; i < 4; i++) assert.equal((await change(pair.access_token, `guess ${i}`, 'attacker password')).statusCode, 403);
      // The fifth failure may come from the login form: one count for both.
      assert.equal(await loginStatus(a.email, 'another guess'), 401);
      const locked = await change(pair.access_token, a.password, 'whatever 123');
      assert.equal(locked.statusCode, 429);
      assert.equal(locked.json().code, 'ACCOUNT_LOCKED');
      // Once the lock is over, a successful change clears the count.
      t.advance(1100);
      const ok = await change(pair.access_token, a.password, 'whatever 123');
      assert.equal(ok.statusCode, 200, ok.body);
      for (let i = 0; i < 4; i++) assert.equal(await loginStatus(a.email, 'wrong again'), 401);
      assert.equal(await loginStatus(a.email, 'whatever 123'), 200, 'the count started again after the success');
    });

    it('lets at most 5 of 100 concurrent guesses with one token be checked, and none changes the password', async () => {
      const a = await account();
      const pair = await loginPair(a.email, a.password);
      const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => change(pair.access_token, `guess ${i}`, `attacker password ${i}`)));
      const statuses = answers.map((r) => r.statusCode);
      const checked = statuses.filter((s) => s === 403).length;
      assert.ok(checked >= 1 && checked <= 5, `checked ${checked} guesses`);
      assert.equal(statuses.filter((s) => s === 429).length, 100 - checked, 'the rest refused unchecked (429)');
      assert.ok(answers.filter((r) => r.statusCode === 429).every((r) => ['ACCOUNT_LOCKED', 'RATE_LIMITED'].includes(r.json().code)));
      t.advance(20 * 60_000);
      assert.equal(await loginStatus(a.email, a.password), 200, 'the password is still the owner\'s');
    });

    it('checks the new password by the registration rules (422 on new_password)', async () => {
      const a = await account();
      const pair = await loginPair(a.email, a.password);
      const res = await change(pair.access_token, a.password, 'short');
      assert.equal(res.statusCode, 422);
      assert.deepEqual(res.json().detail[0].loc, ['body', 'new_password']);
      const tooLong = await change(pair.access_token, a.password, 'é'.repeat(600));
      assert.equal(tooLong.statusCode, 422, 'over 1024 bytes of UTF-8');
      assert.equal(await loginStatus(a.email, a.password), 200);
    });

    it('voids a reset link still waiting in the mailbox', async () => {
      const a = await account();
      const pair = await loginPair(a.email, a.password);
      const token = await resetToken(a.email);
      assert.equal((await change(pair.access_token, a.password, 'changed meanwhile')).statusCode, 200);
      assert.equal((await confirmReset(token, 'reset afterwards')).statusCode, 400);
      assert.equal(await loginStatus(a.email, 'changed meanwhile'), 200);
    });

    it('needs a bearer token and both fields', async () => {
      assert.equal((await post('/users/me/password', { current_password: 'x', new_password: 'yyyyyyyy' })).statusCode, 401);
      const a = await signUp(t.app);
      assert.equal((await post('/users/me/password', { new_password: 'yyyyyyyy' }, a.token)).statusCode, 422);
    });
  });

  describe('password reset', () => {
    it('mails a token (and a link) that sets a new password and logs every device out', async () => {
      const a = await account();
      const first = await loginPair(a.email, a.password);
      const second = await loginPair(a.email, a.password);
      const res = await post('/auth/password-reset/request', { email: a.email });
      assert.equal(res.statusCode, 202);
      const mail = await smtp.next(a.email);
      assert.equal(mail.from, 'accounts@example.test');
      assert.equal(mail.subject, 'Reset your password');
      const token = tokenIn(mail.text);
      assert.ok(mail.text.includes(`${PUBLIC_URL}/reset-password?token=${token}`), mail.text);

      const confirm = await confirmReset(token, 'reset to this one');
      assert.equal(confirm.statusCode, 204, confirm.body);
      for (const pair of [first, second]) {
        assert.equal((await me(pair.access_token)).statusCode, 401, 'a stolen access token is refused after a reset');
        assert.equal((await refresh(pair.refresh_token)).statusCode, 401, 'every session is revoked');
      }
      assert.equal(await loginStatus(a.email, a.password), 401, 'the old password stops working');
      const after = await loginPair(a.email, 'reset to this one');
      assert.equal((await me(after.access_token)).json().email_verified, true, 'reading the mail verified the address');
      for (const type of ['password.reset_requested', 'password.reset']) {
        assert.equal((await t.store.audit.list({ limit: 5, userId: a.id, type })).length, 1, type);
      }
    });

    it('stores only the hash of a 30-minute token', async () => {
      const a = await account();
      const token = await resetToken(a.email);
      const now = Date.now();
      const stored = await t.store.oneTimeTokens.find(hashToken(token), 'password_reset', new Date(now));
      assert.ok(stored);
      assert.equal(stored.userId, a.id);
      assert.ok(!(stored.data ?? '').includes(token));
      const ttl = (stored.expiresAt?.getTime() ?? 0) - stored.createdAt.getTime();
      assert.equal(ttl, 30 * 60 * 1000);
      assert.equal(await t.store.oneTimeTokens.find(token, 'password_reset', new Date(now)), null, 'not the token itself');
    });

    it('accepts a token once: the second confirmation is a 400 (reuse)', async () => {
      const a = await account();
      const token = await resetToken(a.email);
      assert.equal((await confirmReset(token, 'first new password')).statusCode, 204);
      const again = await confirmReset(token, 'second new password');
      assert.equal(again.statusCode, 400);
      assert.equal(again.json().code, 'INVALID_RESET_TOKEN');
      assert.equal(await loginStatus(a.email, 'first new password'), 200);
      assert.equal(await loginStatus(a.email, 'second new password'), 401);
    });

    it('lets exactly one of two concurrent confirmations win', async () => {
      const a = await account();
      const token = await resetToken(a.email);
      const [x, y] = await Promise.all([
        confirmReset(token, 'concurrent one'),
        confirmReset(token, 'concurrent two'),
      ]);
      assert.deepEqual([x.statusCode, y.statusCode].sort(), [204, 400]);
    });

    it('refuses an expired token', async () => {
      const a = await account();
      const token = await insertExpired(a.id, 'password_reset', a.email);
      const res = await confirmReset(token, 'too late now');
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'INVALID_RESET_TOKEN');
      assert.equal(await loginStatus(a.email, a.password), 200);
    });

    it('refuses unknown and malformed tokens, and other purposes', async () => {
      const a = await account();
      const verify = await verifyToken((await loginPair(a.email, a.password)).access_token, a.email);
      for (const token of ['A'.repeat(43), 'short', verify]) {
        const res = await confirmReset(token, 'irrelevant pw');
        assert.equal(res.statusCode, 400, token);
        assert.equal(res.json().code, 'INVALID_RESET_TOKEN');
      }
      const injected = await confirmReset({ $ne: null }, 'irrelevant pw');
      assert.equal(injected.statusCode, 422);
    });

    it('only the latest mailed token works', async () => {
      const a = await account();
      const older = await resetToken(a.email);
      const newer = await resetToken(a.email);
      assert.equal((await confirmReset(older, 'from older')).statusCode, 400);
      assert.equal((await confirmReset(newer, 'from newer')).statusCode, 204);
    });

    it('refuses a new password that breaks the rules and leaves the token usable', async () => {
      const a = await account();
      const token = await resetToken(a.email);
      const res = await confirmReset(token, 'short');
      assert.equal(res.statusCode, 422);
      assert.deepEqual(res.json().detail[0].loc, ['body', 'new_password']);
      assert.equal((await confirmReset(token, 'long enough now')).statusCode, 204);
    });

    it('lifts a login lock', async () => {
      const a = await account();
      for (let i = 0; i < 9; i++) await loginStatus(a.email, 'wrong password');
      assert.equal(await loginStatus(a.email, a.password), 429);
      const token = await resetToken(a.email);
      assert.equal((await confirmReset(token, 'unlocked again')).statusCode, 204);
      assert.equal(await loginStatus(a.email, 'unlocked again'), 200);
    });

    it('refuses the link of an account disabled since it was mailed, and changes nothing', async () => {
      const a = await account();
      const token = await resetToken(a.email);
      await t.store.updateUser(a.id, { disabled: true });
      const res = await confirmReset(token, 'taken over now');
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'INVALID_RESET_TOKEN');
      await t.store.updateUser(a.id, { disabled: false });
      assert.equal(await loginStatus(a.email, 'taken over now'), 401, 'the password did not change');
      assert.equal(await loginStatus(a.email, a.password), 200);
    });

    it('fails, rather than hangs, when an expected mail never comes', async () => {
      await assert.rejects(smtp.next('nobody-writes-here@example.com', 200), /no mail to nobody-writes-here@example.com/);
    });

    it('voids a link mailed to an address the account no longer has', async () => {
      const a = await account();
      const token = await resetToken(a.email);
      await t.store.updateUser(a.id, { email: `moved-${a.email}` });
      const res = await confirmReset(token, 'hijack attempt');
      assert.equal(res.statusCode, 400);
      assert.equal(await loginStatus(`moved-${a.email}`, a.password), 200);
    });

    it('validates the email', async () => {
      assert.equal((await post('/auth/password-reset/request', { email: 'not-an-email' })).statusCode, 422);
      assert.equal((await post('/auth/password-reset/request', {})).statusCode, 422);
    });
  });

  describe('POST /auth/password-reset/request: no enumeration', () => {
    it('answers an unknown email, a disabled account and a real one alike, and mails only the real one', async () => {
      // An app of its own: closing it waits for every queued mail, so "no mail" is a fact, not a race.
      const own = await buildTestApp({ SMTP_URL: smtp.url });
      const known = await signUp(own.app);
      const disabled = await signUp(own.app);
      await own.store.updateUser(disabled.id, { disabled: true });
      const unknown = `nobody-${known.body.email}`;
      const answers = [];
      for (const email of [unknown, known.body.email, disabled.body.email, unknown.toUpperCase()]) {
        const res = await own.app.inject({ method: 'POST', url: '/auth/password-reset/request', payload: { email } });
        answers.push({ status: res.statusCode, body: res.body });
      }
      await own.close();
      assert.deepEqual(new Set(answers.map((a) => JSON.stringify(a))).size, 1, JSON.stringify(answers));
      assert.equal(answers[0]?.status, 202);
      const to = (address: string) => smtp.received.filter((m) => m.to.includes(address.toLowerCase()));
      assert.equal(to(known.body.email).length, 1);
      assert.equal(to(unknown).length, 0);
      assert.equal(to(disabled.body.email).length, 0);
    });
  });

  describe('email verification', () => {
    it('verifies the address with the mailed token, once', async () => {
      const a = await signUp(t.app);
      assert.equal((await me(a.token)).json().email_verified, false);
      const mail = post('/auth/verify-email/request', undefined, a.token);
      assert.equal((await mail).statusCode, 202);
      const received = await smtp.next(a.body.email);
      assert.equal(received.subject, 'Confirm your email address');
      const token = tokenIn(received.text);
      assert.ok(received.text.includes(`${PUBLIC_URL}/verify-email?token=${token}`));
      const res = await post('/auth/verify-email/confirm', { token });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().email_verified, true);
      assert.equal(res.json().id, a.id);
      assert.equal((await me(a.token)).json().email_verified, true);
      const again = await post('/auth/verify-email/confirm', { token });
      assert.equal(again.statusCode, 400);
      assert.equal(again.json().code, 'INVALID_VERIFICATION_TOKEN');
      const verified = await post('/auth/verify-email/request', undefined, a.token);
      assert.equal(verified.statusCode, 409);
      assert.equal(verified.json().code, 'EMAIL_ALREADY_VERIFIED');
      assert.equal((await t.store.audit.list({ limit: 5, userId: a.id, type: 'email.verified' })).length, 1);
    });

    it('refuses a token mailed to an address the user has since changed', async () => {
      const a = await signUp(t.app);
      const token = await verifyToken(a.token, a.body.email);
      await t.store.updateUser(a.id, { email: `new-${a.body.email}` });
      const res = await post('/auth/verify-email/confirm', { token });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'INVALID_VERIFICATION_TOKEN', 'the new email deleted the token mailed before');
      assert.equal((await t.store.findUserById(a.id))?.emailVerified, false);
    });

    it('refuses expired, unknown and reset tokens', async () => {
      const a = await signUp(t.app);
      const expired = await insertExpired(a.id, 'email_verify', a.body.email);
      const reset = await resetToken(a.body.email);
      for (const token of [expired, 'B'.repeat(43), reset, 'x']) {
        const res = await post('/auth/verify-email/confirm', { token });
        assert.equal(res.statusCode, 400, token);
        assert.equal(res.json().code, 'INVALID_VERIFICATION_TOKEN');
      }
      assert.equal((await t.store.findUserById(a.id))?.emailVerified, false);
    });

    it('needs a bearer token to request a mail', async () => {
      assert.equal((await post('/auth/verify-email/request')).statusCode, 401);
    });
  });

  it('GET /admin/outbox is 404 when mail goes through SMTP', async () => {
    const admin = await signUpAdmin(t);
    const res = await t.app.inject({ url: '/admin/outbox', headers: bearer(admin.token) });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'OUTBOX_DISABLED');
  });
});

describe('a mail server that refuses every message', () => {
  it('never turns a reset or verification request into an error', async () => {
    const broken = await startSmtpListener({ reject: true });
    const t = await buildTestApp({ SMTP_URL: broken.url });
    try {
      const a = await signUp(t.app);
      const reset = await t.app.inject({
        method: 'POST',
        url: '/auth/password-reset/request',
        payload: { email: a.body.email },
      });
      assert.equal(reset.statusCode, 202);
      const verify = await t.app.inject({ method: 'POST', url: '/auth/verify-email/request', headers: bearer(a.token) });
      assert.equal(verify.statusCode, 202);
    } finally {
      await t.close(); // waits for both sends to fail, logged, without an unhandled rejection
      await broken.close();
    }
    assert.equal(broken.received.length, 0);
  });
});

describe('the development outbox (no SMTP_URL)', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  /** Mails leave after the answer: look until the outbox shows one for `email` (bounded, no fixed sleep). */
  async function outboxMailTo(adminToken: string, email: string) {
    for (let attempt = 0; attempt < 500; attempt += 1) {
      const res = await t.app.inject({ url: '/admin/outbox', headers: bearer(adminToken) });
      assert.equal(res.statusCode, 200);
      const messages: { to: string; subject: string; text: string; sent_at: string }[] = res.json().messages;
      const mail = messages.find((m) => m.to === email);
      if (mail !== undefined) return mail;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`no mail to ${email} in the outbox`);
  }

  it('shows admins the reset mail, whose token works; students get 403', async () => {
    const admin = await signUpAdmin(t);
    const student = await signUp(t.app);
    const request = await t.app.inject({
      method: 'POST',
      url: '/auth/password-reset/request',
      payload: { email: student.body.email },
    });
    assert.equal(request.statusCode, 202);
    const mail = await outboxMailTo(admin.token, student.body.email);
    assert.equal(mail.subject, 'Reset your password');
    assert.ok(!Number.isNaN(Date.parse(mail.sent_at)));
    assert.ok(!mail.text.includes('https://'), 'no link without PUBLIC_URL');
    const token = TOKEN_RE.exec(mail.text)?.[1] as string;
    const confirm = await t.app.inject({
      method: 'POST',
      url: '/auth/password-reset/confirm',
      payload: { token, new_password: 'from the outbox' },
    });
    assert.equal(confirm.statusCode, 204);

    const forbidden = await t.app.inject({ url: '/admin/outbox', headers: bearer((await signUp(t.app)).token) });
    assert.equal(forbidden.statusCode, 403);
    assert.equal((await t.app.inject({ url: '/admin/outbox' })).statusCode, 401);
  });
});
