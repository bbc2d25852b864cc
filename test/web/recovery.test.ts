/**
 * The recovery pages through app.inject: /forgot-password, /reset-password and /verify-email,
 * with hostile input on every form and odd tokens in the links. Whatever comes in, the answer is
 * a page that says what happened, with a 4xx status, never a 5xx, and nothing half-written.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { hashToken } from '../../src/auth/sessions/session-service.js';
import type { OneTimePurpose } from '../../src/store/store.js';
import { bearer, buildTestApp, newUserBody, signUp, signUpAdmin, type TestApp } from '../helpers/app.js';

/** A browser's cookies, as far as these tests need them (name -> value; cleared ones removed). */
class Jar {
  readonly cookies = new Map<string, string>();
  take(res: LightMyRequestResponse): void {
    for (const cookie of res.cookies as { name: string; value: string; maxAge?: number; expires?: Date }[]) {
      const gone = cookie.value === '' || cookie.maxAge === 0 || (cookie.expires !== undefined && cookie.expires.getTime() <= Date.now());
      if (gone) this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
  }
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

const HTML = { accept: 'text/html' };
const csrfOf = (body: string) => /name="_csrf" value="([^"]+)"/.exec(body)?.[1];
const h1Of = (body: string) => /<h1>([^<]*)<\/h1>/.exec(body)?.[1];
const TOKEN_RE = /token: ([A-Za-z0-9_-]{43})$/m;

describe('the recovery pages (inject)', () => {
  let t: TestApp;
  let admin: { token: string };
  before(async () => {
    t = await buildTestApp({ RATE_LIMIT_RESET_PER_IP: '100000', RATE_LIMIT_RESET_PER_EMAIL: '100000', RATE_LIMIT_VERIFY_EMAIL_PER_USER: '100000' });
    admin = await signUpAdmin(t);
  });
  after(() => t.close());

  async function get(url: string, jar = new Jar()) {
    const res = await t.app.inject({ url, headers: { ...HTML, cookie: jar.header() } });
    jar.take(res);
    return res;
  }

  /** Follows a 303 within the service, as a browser would. */
  async function follow(res: LightMyRequestResponse, jar: Jar) {
    assert.equal(res.statusCode, 303, res.body);
    const location = String(res.headers.location);
    assert.ok(location.startsWith('/'), location);
    return get(location, jar);
  }

  /** Posts a form the way a browser does, with the CSRF token of `page` (GET first). */
  async function post(url: string, fields: Record<string, string | string[]>, jar: Jar, options: { page?: string; csrf?: string | null } = {}) {
    let csrf = options.csrf;
    if (csrf === undefined) csrf = csrfOf((await get(options.page ?? url, jar)).body) ?? null;
    const body = new URLSearchParams();
    if (csrf !== null) body.append('_csrf', csrf);
    for (const [name, value] of Object.entries(fields)) for (const v of [value].flat()) body.append(name, v);
    const res = await t.app.inject({
      method: 'POST',
      url,
      headers: { ...HTML, 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
      payload: body.toString(),
    });
    jar.take(res);
    return res;
  }

  /** The newest mail to `email` in the development outbox (mails leave after the answer: bounded polling). */
  async function mailTo(email: string, subject: string, after = new Date(0)) {
    for (let attempt = 0; attempt < 500; attempt += 1) {
      const res = await t.app.inject({ url: '/admin/outbox', headers: bearer(admin.token) });
      const messages: { to: string; subject: string; text: string; sent_at: string }[] = res.json().messages;
      const mail = messages.find((m) => m.to === email && m.subject === subject && Date.parse(m.sent_at) >= after.getTime());
      if (mail !== undefined) return mail;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`no "${subject}" mail to ${email} in the outbox`);
  }

  /** A token of the right shape whose time is up. */
  async function insertExpired(userId: string, purpose: OneTimePurpose, email: string): Promise<string> {
    const token = `E${newUserBody().username.replace(/[^A-Za-z0-9]/g, '')}`.padEnd(43, 'x').slice(0, 43);
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

  async function outboxCount(email: string) {
    const res = await t.app.inject({ url: '/admin/outbox', headers: bearer(admin.token) });
    return (res.json().messages as { to: string }[]).filter((m) => m.to === email).length;
  }

  /** A reset mail for `email`, and its link's path (what a person clicks). */
  async function resetLink(email: string) {
    const since = new Date();
    const res = await post('/forgot-password', { email }, new Jar());
    assert.equal(res.statusCode, 200, res.body);
    const mail = await mailTo(email, 'Reset your password', since);
    const link = /^(http:\/\/localhost:\d+)(\/reset-password\?token=[A-Za-z0-9_-]{43})$/m.exec(mail.text);
    assert.ok(link, mail.text);
    return { path: link[2] as string, token: TOKEN_RE.exec(mail.text)?.[1] as string, text: mail.text };
  }

  /** Opens the link: the token moves into a cookie, then the form. */
  async function openReset(path: string, jar = new Jar()) {
    const res = await get(path, jar);
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/reset-password', 'the token leaves the address bar');
    return { jar, page: await follow(res, jar) };
  }

  async function signInBrowser(login: string, password: string) {
    const jar = new Jar();
    const res = await post('/sign-in', { login, password, next: '/' }, jar);
    assert.equal(res.statusCode, 303, res.body);
    assert.ok(jar.cookies.has('sid'));
    return jar;
  }

  describe('/forgot-password', () => {
    it('shows the form, prefilled for a signed-in user', async () => {
      const res = await get('/forgot-password');
      assert.equal(res.statusCode, 200);
      assert.equal(h1Of(res.body), 'Forgot your password?');
      assert.match(res.body, /<label for="f-email">Email<\/label>/);
      const user = await signUp(t.app);
      const jar = await signInBrowser(user.body.email, user.body.password);
      assert.ok((await get('/forgot-password', jar)).body.includes(`value="${user.body.email}"`));
    });

    it('answers a real address and an unknown one alike, and mails only the real one', async () => {
      const user = await signUp(t.app);
      const unknown = newUserBody().email;
      const real = await post('/forgot-password', { email: user.body.email }, new Jar());
      const none = await post('/forgot-password', { email: unknown }, new Jar());
      assert.equal(real.statusCode, 200);
      assert.equal(none.statusCode, 200);
      const strip = (body: string, email: string) => body.replaceAll(email, 'EMAIL').replaceAll(encodeURIComponent(email), 'EMAIL');
      assert.equal(strip(real.body, user.body.email), strip(none.body, unknown));
      assert.match(real.body, /If an account has the address/);
      await mailTo(user.body.email, 'Reset your password');
      assert.equal(await outboxCount(unknown), 0);
    });

    it('says what is wrong with a missing, repeated, malformed or huge address (422), and sends nothing', async () => {
      for (const [fields, message] of [
        [{}, 'Enter your email address'],
        [{ email: '   ' }, 'Enter your email address'],
        [{ email: ['a@example.com', 'b@example.com'] }, 'Enter your email address'],
        [{ email: 'not an address' }, 'Enter an email address like name@example.com'],
        [{ email: `${'a'.repeat(250)}@example.com` }, 'Enter an email address like name@example.com'],
        [{ email: '<script>alert(1)</script>@x' }, 'Enter an email address like name@example.com'],
      ] as const) {
        const res = await post('/forgot-password', fields as Record<string, string | string[]>, new Jar());
        assert.equal(res.statusCode, 422, JSON.stringify(fields));
        assert.match(res.body, /<title>Error: Forgot your password\?/);
        assert.ok(res.body.includes(message), message);
        assert.ok(!res.body.includes('<script>alert'), 'escaped');
        assert.match(res.body, /aria-invalid="true"/);
      }
    });

    it('refuses a missing or wrong CSRF token (403), a JSON body of wrong types (4xx), and a body over the form limit (413)', async () => {
      const user = await signUp(t.app);
      assert.equal((await post('/forgot-password', { email: user.body.email }, new Jar(), { csrf: null })).statusCode, 403);
      assert.equal((await post('/forgot-password', { email: user.body.email }, new Jar(), { csrf: 'x'.repeat(43) })).statusCode, 403);
      const jar = new Jar();
      const csrf = csrfOf((await get('/forgot-password', jar)).body) as string;
      const json = await t.app.inject({
        method: 'POST',
        url: '/forgot-password',
        headers: { ...HTML, cookie: jar.header() },
        payload: { _csrf: csrf, email: { $ne: null } },
      });
      assert.equal(json.statusCode, 422);
      const huge = await post('/forgot-password', { email: 'x'.repeat(70 * 1024) }, jar);
      assert.equal(huge.statusCode, 413);
      assert.equal(h1Of(huge.body), 'Cannot read the request');
      assert.equal(await outboxCount(user.body.email), 0);
    });
  });

  describe('/reset-password', () => {
    it('moves the token from the link into an HttpOnly cookie, then shows the form for that account', async () => {
      const user = await signUp(t.app);
      const link = await resetLink(user.body.email);
      const res = await get(link.path);
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/reset-password');
      const cookie = (res.cookies as { name: string; value: string; httpOnly?: boolean; maxAge?: number; sameSite?: string }[]).find((c) => c.name === 'rst');
      assert.ok(cookie);
      assert.equal(cookie.value, link.token);
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Lax');
      assert.equal(cookie.maxAge, 1800);
      const { page } = await openReset(link.path);
      assert.equal(page.statusCode, 200);
      assert.equal(h1Of(page.body), 'Choose a new password');
      assert.ok(page.body.includes(user.body.email));
      assert.ok(!page.body.includes(link.token), 'the token is not in the page');
      assert.match(page.body, /autocomplete="new-password"/);
    });

    it('keeps the token through a password that breaks the rules, then changes it and signs every device out', async () => {
      const user = await signUp(t.app);
      const browser = await signInBrowser(user.body.email, user.body.password);
      const link = await resetLink(user.body.email);
      const { jar } = await openReset(link.path);
      for (const [password, message] of [
        ['', 'Choose a new password'],
        [['first password', 'second password'], 'Choose a new password'],
        ['short', 'Password must be at least 8 characters'],
        ['x'.repeat(2000), 'Password must be at most 1024 bytes of UTF-8'],
      ] as const) {
        const res = await post('/reset-password', { email: user.body.email, password: password as string | string[] }, jar);
        assert.equal(res.statusCode, 422, String(password));
        assert.match(res.body, /<title>Error: Choose a new password/);
        assert.ok(res.body.includes(message), message);
        assert.ok(jar.cookies.has('rst'), 'the token is kept');
      }
      assert.equal((await post('/reset-password', { password: 'the new password' }, jar, { csrf: null })).statusCode, 403);

      const done = await post('/reset-password', { email: user.body.email, password: 'the new password' }, jar);
      assert.equal(done.statusCode, 303);
      assert.equal(done.headers.location, '/sign-in?reset=1');
      assert.ok(!jar.cookies.has('rst'), 'the cookie is cleared');
      const signIn = await follow(done, jar);
      assert.match(signIn.body, /every device that was signed in to your account is signed out/);

      // The browser signed in before is signed out; the API's login takes the new password only.
      const before = await get('/', browser);
      assert.equal(h1Of(before.body), 'Welcome');
      const old = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: user.body.email, password: user.body.password } });
      assert.equal(old.statusCode, 401);
      const fresh = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: user.body.email, password: 'the new password' } });
      assert.equal(fresh.statusCode, 200);

      // The same link again: a page that says so, and a new link a click away.
      const again = await openReset(link.path);
      assert.equal(again.page.statusCode, 400);
      assert.equal(h1Of(again.page.body), 'This link was used already or has expired');
      assert.match(again.page.body, /action="\/forgot-password"/);
      assert.match(again.page.body, /Send a new link/);
    });

    it('turns a link that cannot work into a clear page: too long, wrong alphabet, repeated, empty, unknown', async () => {
      const user = await signUp(t.app);
      const { token } = await resetLink(user.body.email);
      for (const query of [
        `token=${'A'.repeat(5000)}`,
        `token=${'!'.repeat(43)}`,
        `token=${encodeURIComponent('é'.repeat(43))}`,
        `token=${token}&token=${token}`,
        'token=',
        'token',
        `token=${'B'.repeat(43)}`,
        `token=${encodeURIComponent(`${token}\n`)}`,
        'token[$ne]=1',
      ]) {
        const jar = new Jar();
        const res = await get(`/reset-password?${query}`, jar);
        assert.ok(res.statusCode < 500, `${query}: ${res.statusCode}`);
        const page = res.statusCode === 303 ? await follow(res, jar) : res;
        assert.equal(page.statusCode, 400, query);
        assert.equal(h1Of(page.body), 'This link was used already or has expired', query);
        assert.ok(!jar.cookies.has('rst'), `${query}: no token kept`);
      }
      // The real token was never used up by any of these.
      assert.equal((await openReset(`/reset-password?token=${token}`)).page.statusCode, 200);
    });

    it('refuses a forged cookie and a form posted without the link, with the forgot form prefilled', async () => {
      const jar = new Jar();
      jar.cookies.set('rst', 'C'.repeat(43));
      const res = await get('/reset-password', jar);
      assert.equal(res.statusCode, 400);
      const user = await signUp(t.app);
      const blind = await post('/reset-password', { email: user.body.email, password: 'a long enough one' }, new Jar(), { page: '/forgot-password' });
      assert.equal(blind.statusCode, 400);
      assert.equal(h1Of(blind.body), 'This link was used already or has expired');
      assert.ok(blind.body.includes(`value="${user.body.email}"`), 'prefilled');
      const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: user.body.email, password: user.body.password } });
      assert.equal(login.statusCode, 200, 'nothing changed');
    });

    it('shows no form for an expired link, nor for the link of an account disabled since', async () => {
      const user = await signUp(t.app);
      const expired = await insertExpired(user.id, 'password_reset', user.body.email);
      assert.equal((await openReset(`/reset-password?token=${expired}`)).page.statusCode, 400);
      const link = await resetLink(user.body.email);
      const patch = await t.app.inject({ method: 'PATCH', url: `/users/${user.id}`, headers: bearer(admin.token), payload: { disabled: true } });
      assert.equal(patch.statusCode, 200);
      const { page } = await openReset(link.path);
      assert.equal(page.statusCode, 400);
      assert.equal(h1Of(page.body), 'This link was used already or has expired');
    });

    it('refuses a link replaced by a newer one', async () => {
      const user = await signUp(t.app);
      const first = await resetLink(user.body.email);
      const { jar } = await openReset(first.path);
      await resetLink(user.body.email);
      const res = await post('/reset-password', { email: user.body.email, password: 'the new password' }, jar);
      assert.equal(res.statusCode, 400);
      assert.equal(h1Of(res.body), 'This link was used already or has expired');
      assert.ok(!jar.cookies.has('rst'));
    });
  });

  describe('/verify-email', () => {
    async function verificationLink(user: { token: string; body: { email: string } }) {
      const since = new Date();
      assert.equal((await t.app.inject({ method: 'POST', url: '/auth/verify-email/request', headers: bearer(user.token) })).statusCode, 202);
      const mail = await mailTo(user.body.email, 'Confirm your email address', since);
      const link = /^http:\/\/localhost:\d+(\/verify-email\?token=[A-Za-z0-9_-]{43})$/m.exec(mail.text);
      assert.ok(link, mail.text);
      return link[1] as string;
    }

    it('confirms the address once; the same link again says so and asks a signed-out visitor to sign in', async () => {
      const user = await signUp(t.app);
      const link = await verificationLink(user);
      const res = await get(link);
      assert.equal(res.statusCode, 200);
      assert.equal(h1Of(res.body), 'Your email address is confirmed');
      assert.equal((await t.store.findUserByEmail(user.body.email))?.emailVerified, true);
      const again = await get(link);
      assert.equal(again.statusCode, 400);
      assert.equal(h1Of(again.body), 'This link was used already or has expired');
      assert.ok(again.body.includes('href="/sign-in?next=%2Fverify-email"'));
    });

    it('turns odd tokens into the same clear page, never a 5xx', async () => {
      const user = await signUp(t.app);
      const expired = await insertExpired(user.id, 'email_verify', user.body.email);
      for (const query of [
        `token=${expired}`,
        `token=${'A'.repeat(5000)}`,
        `token=${'!'.repeat(43)}`,
        'token=a&token=b',
        'token=',
        'token',
        `token=${'%00'.repeat(43)}`,
      ]) {
        const res = await get(`/verify-email?${query}`);
        assert.equal(res.statusCode, 400, query);
        assert.equal(h1Of(res.body), 'This link was used already or has expired', query);
      }
      // No `token` parameter at all (a bracketed name is another name): the page without a link.
      const other = await get('/verify-email?token[$ne]=1');
      assert.equal(other.statusCode, 200);
      assert.equal(h1Of(other.body), 'Confirm your email address');
    });

    it('offers a signed-in user a new link, sent by a form that shares the API limit', async () => {
      const user = await signUp(t.app);
      const link = await verificationLink(user);
      await verificationLink(user); // a newer mail: the first link is void
      const jar = await signInBrowser(user.body.email, user.body.password);
      const used = await get(link, jar);
      assert.equal(used.statusCode, 400);
      assert.match(used.body, /Ask for a new one, to <strong>/);
      assert.match(used.body, />Send a new link<\/button>/);

      assert.equal((await post('/verify-email', {}, jar, { page: '/verify-email', csrf: null })).statusCode, 403);
      const since = new Date();
      const sent = await post('/verify-email', {}, jar, { page: '/verify-email' });
      assert.equal(sent.statusCode, 303);
      assert.equal(sent.headers.location, '/verify-email?sent=1');
      assert.match((await follow(sent, jar)).body, /We sent a new link to/);
      const mail = await mailTo(user.body.email, 'Confirm your email address', since);
      const fresh = /^http:\/\/localhost:\d+(\/verify-email\?token=[A-Za-z0-9_-]{43})$/m.exec(mail.text)?.[1] as string;
      const ok = await get(fresh, jar);
      assert.equal(ok.statusCode, 200);
      assert.match(ok.body, /href="\/account"/);

      // Confirmed: the page says there is nothing to do, and a resend changes nothing.
      assert.match((await get('/verify-email', jar)).body, /there is nothing more to do/);
      const count = await outboxCount(user.body.email);
      const again = await post('/verify-email', { junk: 'x'.repeat(1000) }, jar, { page: '/verify-email?x' });
      assert.equal(again.statusCode, 303);
      assert.equal(again.headers.location, '/verify-email');
      assert.equal(await outboxCount(user.body.email), count);
    });

    it('sends a signed-out resend to the sign-in page, coming back here', async () => {
      const res = await post('/verify-email', {}, new Jar(), { page: '/forgot-password' });
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/sign-in?next=%2Fverify-email');
      const page = await get('/verify-email');
      assert.equal(page.statusCode, 200);
      assert.equal(h1Of(page.body), 'Confirm your email address');
    });
  });
});

describe('the recovery pages share the API limits', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ RATE_LIMIT_RESET_PER_EMAIL: '3', RATE_LIMIT_VERIFY_EMAIL_PER_USER: '2' });
  });
  after(() => t.close());

  it('counts POST /forgot-password and POST /auth/password-reset/request together, per address', async () => {
    const email = newUserBody().email;
    const jar = new Jar();
    const page = await t.app.inject({ url: '/forgot-password', headers: HTML });
    jar.take(page);
    const csrf = csrfOf(page.body) as string;
    const form = (address: string) =>
      t.app.inject({
        method: 'POST',
        url: '/forgot-password',
        headers: { ...HTML, 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
        payload: new URLSearchParams({ _csrf: csrf, email: address }).toString(),
      });
    assert.equal((await t.app.inject({ method: 'POST', url: '/auth/password-reset/request', payload: { email } })).statusCode, 202);
    assert.equal((await form(email)).statusCode, 200);
    assert.equal((await form(email.toUpperCase())).statusCode, 200);
    const limited = await form(email);
    assert.equal(limited.statusCode, 429);
    assert.equal(h1Of(limited.body), 'Too many requests');
    assert.equal((await t.app.inject({ method: 'POST', url: '/auth/password-reset/request', payload: { email } })).statusCode, 429);
    assert.equal((await form(newUserBody().email)).statusCode, 200, 'another address is not limited');
  });

  it('counts POST /verify-email and POST /auth/verify-email/request together, per user', async () => {
    const user = await signUp(t.app);
    const jar = new Jar();
    const signInPage = await t.app.inject({ url: '/sign-in', headers: HTML });
    jar.take(signInPage);
    const signIn = await t.app.inject({
      method: 'POST',
      url: '/sign-in',
      headers: { ...HTML, 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
      payload: new URLSearchParams({ _csrf: csrfOf(signInPage.body) as string, login: user.body.email, password: user.body.password }).toString(),
    });
    jar.take(signIn);
    const verifyPage = await t.app.inject({ url: '/verify-email', headers: { ...HTML, cookie: jar.header() } });
    const csrf = csrfOf(verifyPage.body) as string;
    const resend = () =>
      t.app.inject({
        method: 'POST',
        url: '/verify-email',
        headers: { ...HTML, 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
        payload: new URLSearchParams({ _csrf: csrf }).toString(),
      });
    assert.equal((await t.app.inject({ method: 'POST', url: '/auth/verify-email/request', headers: bearer(user.token) })).statusCode, 202);
    assert.equal((await resend()).statusCode, 303);
    const limited = await resend();
    assert.equal(limited.statusCode, 429);
    assert.equal(h1Of(limited.body), 'Too many requests');
  });
});
