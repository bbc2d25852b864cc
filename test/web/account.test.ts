/**
 * The account pages' forms against hostile input, through app.inject: a missing, wrong or borrowed
 * CSRF token, another site's request, junk, missing and repeated fields, wrong types, huge values,
 * an old sign-in. Each gets a page with a 4xx status (never a 5xx), and nothing is half-written.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { hashToken } from '../../src/auth/sessions/session-service.js';
import type { User } from '../../src/store/store.js';
import { newId } from '../../src/users/ids.js';
import { bearer, buildTestApp, newUserBody, signUp, type TestApp } from '../helpers/app.js';

type Fields = Record<string, string | string[]>;

/** A browser as inject sees it: its cookies, and the CSRF token of the last form it was shown. */
interface Jar {
  cookies: Map<string, string>;
  csrf: string;
}

const CSRF_RE = /name="_csrf" value="([^"]+)"/;

describe('the account pages refuse hostile forms', () => {
  let t: TestApp;
  before(async () => {
    // The per-user limits are lifted here (their own test below sets them low).
    t = await buildTestApp({ RATE_LIMIT_REAUTH_PER_USER: '10000', RATE_LIMIT_VERIFY_EMAIL_PER_USER: '10000' });
  });
  after(() => t.close());

  const cookieHeader = (jar: Jar) => [...jar.cookies].map(([k, v]) => `${k}=${v}`).join('; ');

  function keepCookies(jar: Jar, setCookie: string | string[] | undefined) {
    for (const line of [setCookie ?? []].flat()) {
      const [pair] = line.split(';');
      const [name, ...value] = (pair ?? '').split('=');
      if (name === undefined) continue;
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line)) jar.cookies.delete(name.trim());
      else jar.cookies.set(name.trim(), value.join('='));
    }
  }

  async function get(jar: Jar, url: string) {
    const res = await t.app.inject({ url, headers: { accept: 'text/html', cookie: cookieHeader(jar) } });
    keepCookies(jar, res.headers['set-cookie']);
    const token = CSRF_RE.exec(res.body)?.[1];
    if (token !== undefined) jar.csrf = token;
    return res;
  }

  function encode(fields: Fields): string {
    const body = new URLSearchParams();
    for (const [name, value] of Object.entries(fields)) for (const v of [value].flat()) body.append(name, v);
    return body.toString();
  }

  /** A form post as the page would send it (its token unless `csrf` says otherwise). */
  async function post(jar: Jar, url: string, fields: Fields, options: { csrf?: string | null; headers?: Record<string, string> } = {}) {
    const csrf = options.csrf === undefined ? jar.csrf : options.csrf;
    const res = await t.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', cookie: cookieHeader(jar), ...options.headers },
      payload: encode(csrf === null ? fields : { _csrf: csrf, ...fields }),
    });
    keepCookies(jar, res.headers['set-cookie']);
    return res;
  }

  /** Signs up (API) and in (the sign-in page): a browser whose session is brand new. */
  async function signedIn(): Promise<{ jar: Jar; who: ReturnType<typeof newUserBody>; id: string }> {
    const who = newUserBody();
    const created = await t.app.inject({ method: 'POST', url: '/auth/register', payload: who });
    assert.equal(created.statusCode, 201, created.body);
    const jar: Jar = { cookies: new Map(), csrf: '' };
    await get(jar, '/sign-in');
    const res = await post(jar, '/sign-in', { login: who.email, password: who.password, next: '/account' });
    assert.equal(res.statusCode, 303, res.body);
    assert.ok(jar.cookies.has('sid'), 'signed in');
    await get(jar, '/account');
    return { jar, who, id: created.json().id };
  }

  /** A browser whose sign-in is an hour old (a session row made so in the store). */
  async function oldSignIn(user: User): Promise<Jar> {
    const token = randomBytes(32).toString('base64url');
    const hourAgo = new Date(Date.now() - 3_600_000);
    await t.store.sessions.create(
      {
        id: newId(),
        userId: user.id,
        kind: 'browser',
        createdAt: hourAgo,
        lastUsedAt: hourAgo,
        expiresAt: new Date(Date.now() + 3_600_000),
        revokedAt: null,
        userAgent: 'old browser',
        ip: '127.0.0.1',
      },
      hashToken(token),
    );
    const jar: Jar = { cookies: new Map([['sid', token]]), csrf: '' };
    await get(jar, '/account');
    return jar;
  }

  const userOf = async (id: string) => (await t.store.findUserById(id)) as User;

  /** A 4xx page: HTML, a heading, never a 5xx, never JSON. */
  function assertPage(res: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, text?: RegExp) {
    assert.equal(res.statusCode, status, res.body.slice(0, 600));
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.match(res.body, /<h1>/);
    if (text !== undefined) assert.match(res.body, text);
  }

  /** Every form of the account pages, with what it needs to be sent at all. */
  const FORMS: [url: string, fields: (who: ReturnType<typeof newUserBody>) => Fields][] = [
    ['/account/profile', (who) => ({ username: who.username, full_name: 'Changed By Attacker' })],
    ['/account/verify-email', () => ({})],
    ['/account/email', (who) => ({ email: newUserBody().email, password: who.password })],
    ['/account/password', (who) => ({ current_password: who.password, new_password: 'attacker password 1' })],
    ['/account/sessions/end', () => ({ session: '6916cbc709d9eedb316de5c3' })],
    ['/account/sessions/everywhere', () => ({})],
    ['/account/2fa/setup', (who) => ({ password: who.password })],
    ['/account/2fa/confirm', () => ({ code: '123456' })],
    ['/account/2fa/recovery-codes', () => ({ code: '123456' })],
    ['/account/2fa/disable', (who) => ({ password: who.password, code: '123456' })],
  ];

  /** What a refused form must not have changed. */
  async function assertUnchanged(id: string, before: User, jar: Jar) {
    const now = await userOf(id);
    assert.equal(now.username, before.username);
    assert.equal(now.fullName, before.fullName);
    assert.equal(now.email, before.email);
    assert.equal(now.passwordHash, before.passwordHash);
    assert.equal(now.totpSecret, before.totpSecret);
    assert.equal(now.totpEnabled, before.totpEnabled);
    assert.equal((await get(jar, '/account')).statusCode, 200, 'still signed in');
  }

  it('refuses every form without its CSRF token, with a wrong one, or with another session\'s', async () => {
    const { jar, who, id } = await signedIn();
    const other = await signedIn();
    const before = await userOf(id);
    for (const [url, fields] of FORMS) {
      for (const csrf of [null, '', 'forged', 'x'.repeat(5000), other.jar.csrf]) {
        const res = await post(jar, url, fields(who), { csrf });
        assertPage(res, 403, /This form cannot be sent/);
      }
      const repeated = await post(jar, url, { ...fields(who), _csrf: [jar.csrf, jar.csrf] }, { csrf: null });
      assertPage(repeated, 403, /This form cannot be sent/);
    }
    await assertUnchanged(id, before, jar);
    assert.equal(await t.store.oneTimeTokens.countForUser(id, 'email_verify'), 0, 'no mail was sent');
  });

  it('refuses every form sent from another site, even with the right token', async () => {
    const { jar, who, id } = await signedIn();
    const before = await userOf(id);
    for (const [url, fields] of FORMS) {
      for (const headers of [{ 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }, { origin: 'https://evil.example' }] as Record<string, string>[]) {
        assertPage(await post(jar, url, fields(who), { headers }), 403, /This form cannot be sent/);
      }
    }
    await assertUnchanged(id, before, jar);
  });

  it('sends a browser that is not signed in to the sign-in page, whatever it posts', async () => {
    const jar: Jar = { cookies: new Map(), csrf: '' };
    await get(jar, '/sign-in');
    for (const [url, fields] of FORMS) {
      const res = await post(jar, url, fields(newUserBody()));
      assert.equal(res.statusCode, 303, `${url}: ${res.body.slice(0, 200)}`);
      assert.match(String(res.headers.location), /^\/sign-in\?next=/);
    }
  });

  it('answers junk, missing, repeated and wrongly typed fields with the form and its errors (422)', async () => {
    const { jar, who, id } = await signedIn();
    const before = await userOf(id);
    const cases: [string, Fields, RegExp][] = [
      ['/account/profile', {}, /Enter a username/],
      ['/account/profile', { username: [who.username, 'other_name'] }, /Enter a username/],
      ['/account/profile', { username: 'ab' }, /There is a problem/],
      ['/account/profile', { username: '<script>alert(1)</script>' }, /There is a problem/],
      ['/account/profile', { username: who.username, full_name: 'x'.repeat(201) }, /at most 200 characters/],
      ['/account/profile', { username: who.username, full_name: 'tab\tand\u0000nul' }, /control characters/],
      ['/account/email', {}, /Enter the new email address/],
      ['/account/email', { email: 'not-an-email', password: who.password }, /like name@example.com/],
      ['/account/email', { email: who.email.toUpperCase(), password: who.password }, /your email address already/],
      ['/account/email', { email: [newUserBody().email, newUserBody().email], password: who.password }, /Enter the new email address/],
      ['/account/email', { email: `${'x'.repeat(300)}@example.com`, password: who.password }, /like name@example.com/],
      ['/account/password', {}, /Enter your current password/],
      ['/account/password', { current_password: who.password, new_password: 'short' }, /at least 8 characters/],
      ['/account/password', { current_password: [who.password, who.password], new_password: 'a long new password' }, /Enter your current password/],
      ['/account/2fa/setup', {}, /Enter your password/],
      ['/account/2fa/setup', { password: ['a', 'b'] }, /Enter your password/],
      ['/account/2fa/confirm', { code: '' }, /Enter the code/],
    ];
    for (const [url, fields, text] of cases) {
      const res = await post(jar, url, fields);
      assertPage(res, 422, text);
      assert.match(res.body, /<title>Error: /, `${url}: the title says there is an error`);
      assert.ok(!res.body.includes('<script>alert'), 'what was typed is escaped');
    }
    await assertUnchanged(id, before, jar);
  });

  it('refuses a wrong password with 403 and a taken name or address with 400, changing nothing', async () => {
    const { jar, who, id } = await signedIn();
    const other = await signUp(t.app);
    const before = await userOf(id);
    assertPage(await post(jar, '/account/profile', { username: other.body.username }), 400, /Another account has this username/);
    assertPage(await post(jar, '/account/email', { email: newUserBody().email, password: 'wrong password' }), 403, /That password is not right/);
    assertPage(await post(jar, '/account/email', { email: other.body.email, password: who.password }), 400, /Another account uses this address/);
    assertPage(
      await post(jar, '/account/password', { current_password: 'wrong password', new_password: 'a long new password' }),
      403,
      /That password is not right/,
    );
    assertPage(await post(jar, '/account/2fa/setup', { password: 'wrong password' }), 403, /That password is not right/);
    await assertUnchanged(id, before, jar);
  });

  it('refuses bodies that are too large (413), not forms (415) or JSON with wrong types, as pages', async () => {
    const { jar, id } = await signedIn();
    const before = await userOf(id);
    const huge = await post(jar, '/account/profile', { username: 'x'.repeat(70 * 1024) });
    assertPage(huge, 413, /too large/);
    const plain = await t.app.inject({
      method: 'POST',
      url: '/account/password',
      headers: { 'content-type': 'text/plain', accept: 'text/html', cookie: cookieHeader(jar) },
      payload: `_csrf=${jar.csrf}&current_password=x&new_password=y`,
    });
    assert.ok([403, 415].includes(plain.statusCode), `text/plain: ${plain.statusCode}`);
    assert.match(String(plain.headers['content-type']), /^text\/html/);
    const json = await t.app.inject({
      method: 'POST',
      url: '/account/profile',
      headers: { 'content-type': 'application/json', accept: 'text/html', cookie: cookieHeader(jar) },
      payload: JSON.stringify({ _csrf: jar.csrf, username: { $ne: null }, full_name: ['a'] }),
    });
    assertPage(json, 422, /Enter a username/);
    const broken = await t.app.inject({
      method: 'POST',
      url: '/account/email',
      headers: { 'content-type': 'application/json', accept: 'text/html', cookie: cookieHeader(jar) },
      payload: '{"_csrf": ',
    });
    assert.ok(broken.statusCode >= 400 && broken.statusCode < 500, `broken JSON: ${broken.statusCode}`);
    await assertUnchanged(id, before, jar);
  });

  it('signs out only sessions of this user, and says so for junk ids (404)', async () => {
    const { jar, id } = await signedIn();
    const stranger = await signUp(t.app);
    const theirs = (await t.store.sessions.listActive(stranger.id, new Date()))[0];
    assert.ok(theirs !== undefined);
    for (const session of ['', 'junk', '../../etc', theirs.id, theirs.id.toUpperCase(), [theirs.id, theirs.id]]) {
      assertPage(await post(jar, '/account/sessions/end', { session }), 404, /not signed in any more/);
    }
    assertPage(await get(jar, `/account/sessions/end?session=${theirs.id}`), 404, /not signed in any more/);
    assert.equal((await t.app.inject({ url: '/users/me', headers: bearer(stranger.token) })).statusCode, 200, "the stranger's session lives");
    assert.equal((await get(jar, '/account')).statusCode, 200);
    assert.equal((await userOf(id)).id, id);
  });

  it('sends an old sign-in to /account/confirm before a sensitive form, and changes nothing', async () => {
    const { who, id } = await signedIn();
    const before = await userOf(id);
    const jar = await oldSignIn(before);
    for (const url of ['/account/password', '/account/email', '/account/2fa/setup']) {
      const page = await get(jar, url);
      assert.equal(page.statusCode, 303, url);
      assert.equal(page.headers.location, `/account/confirm?next=${encodeURIComponent(url)}`);
    }
    const sensitive = ['/account/email', '/account/password', '/account/2fa/setup', '/account/2fa/recovery-codes', '/account/2fa/disable'];
    for (const [url, fields] of FORMS.filter(([url]) => sensitive.includes(url))) {
      const res = await post(jar, url, fields(who));
      assert.equal(res.statusCode, 303, url);
      assert.match(String(res.headers.location), /^\/account\/confirm\?next=/);
    }
    await assertUnchanged(id, before, jar);
    // The password again gives a new session, fresh: the form opens.
    await get(jar, '/account/confirm?next=/account/password');
    const confirmed = await post(jar, '/account/confirm', { password: who.password, next: '/account/password' });
    assert.equal(confirmed.statusCode, 303);
    assert.equal(confirmed.headers.location, '/account/password');
    assert.equal((await get(jar, '/account/password')).statusCode, 200);
  });

  it('turns nothing on with a wrong first code, and offers to start again', async () => {
    const { jar, who, id } = await signedIn();
    const setup = await post(jar, '/account/2fa/setup', { password: who.password });
    assertPage(setup, 200, /Scan the code/);
    const secret = (await userOf(id)).totpSecret as string;
    const right = TOTP.generate({ secret: Secret.fromBase32(secret) });
    const wrong = right === '000000' ? '111111' : '000000';
    for (const code of [wrong, 'abcdef', '1234567', 'x'.repeat(2000), '7kq2-m9xd-c4rt']) {
      assertPage(await post(jar, '/account/2fa/confirm', { code }), 403, /Start the setup again/);
    }
    assert.equal((await userOf(id)).totpEnabled, false);
    // Without a setup under way, or with it on already, the forms lead back where they belong.
    const fresh = await signedIn();
    const early = await post(fresh.jar, '/account/2fa/confirm', { code: '123456' });
    assert.equal(early.statusCode, 303);
    assert.equal(early.headers.location, '/account/2fa/setup');
    for (const url of ['/account/2fa/recovery-codes', '/account/2fa/disable']) {
      const res = await post(fresh.jar, url, { code: '123456', password: fresh.who.password });
      assert.equal(res.statusCode, 303, url);
      assert.equal(res.headers.location, '/account/2fa');
    }
  });

  it('refuses wrong codes and passwords when two-factor authentication is on, keeping it on', async () => {
    const { jar, who, id } = await signedIn();
    await post(jar, '/account/2fa/setup', { password: who.password });
    const secret = (await userOf(id)).totpSecret as string;
    const confirmed = await post(jar, '/account/2fa/confirm', { code: TOTP.generate({ secret: Secret.fromBase32(secret) }) });
    assertPage(confirmed, 200, /Save your recovery codes/);
    const codes = [...confirmed.body.matchAll(/<li>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})<\/li>/g)].map((m) => m[1]);
    assert.equal(codes.length, 10);
    // The codes are in this answer only: no later page shows them.
    const status = await get(jar, '/account/2fa');
    assert.match(status.body, /10 unused recovery codes/);
    for (const code of codes) assert.ok(!status.body.includes(code as string));

    assertPage(await post(jar, '/account/2fa/recovery-codes', {}), 422, /Enter the code/);
    assertPage(await post(jar, '/account/2fa/recovery-codes', { code: codes[0] as string }), 403, /not right/);
    assertPage(await post(jar, '/account/2fa/disable', {}), 422, /Enter your password/);
    assertPage(await post(jar, '/account/2fa/disable', { password: 'wrong password', code: codes[0] as string }), 403, /password is not right/);
    assertPage(await post(jar, '/account/2fa/disable', { password: who.password, code: '000000' }), 403, /code is not right/);
    assertPage(await post(jar, '/account/2fa/disable', { password: [who.password, who.password], code: '000000' }), 422, /Enter your password/);
    const again = await post(jar, '/account/2fa/setup', { password: who.password });
    assert.equal(again.statusCode, 303, 'no second setup while it is on');
    assert.equal(again.headers.location, '/account/2fa');
    assert.equal((await userOf(id)).totpEnabled, true);
    assert.equal(await t.store.oneTimeTokens.countForUser(id, 'recovery'), 10, 'the recovery codes are as they were');

    // A recovery code turns it off (the password too): the form does what it says.
    const off = await post(jar, '/account/2fa/disable', { password: who.password, code: codes[1] as string });
    assert.equal(off.statusCode, 303);
    assert.equal(off.headers.location, '/account/2fa?done=off');
    assert.equal((await userOf(id)).totpEnabled, false);
  });

  it('keeps every account page under 100 KB with its stylesheet and scripts, all from this origin', async (context) => {
    const { jar, who, id } = await signedIn();
    /** The page's bytes, its stylesheet's and its scripts': what a first visit downloads. */
    async function weigh(name: string, res: { statusCode: number; body: string }) {
      assert.ok(res.statusCode < 300, `${name}: ${res.statusCode}`);
      const assets = [...res.body.matchAll(/<(?:link rel="stylesheet"|link rel="icon"|script type="module") (?:href|src)="([^"]+)"/g)].map((m) => m[1] as string);
      let bytes = Buffer.byteLength(res.body);
      for (const url of assets) {
        assert.match(url, /^\/assets\//, `${name}: ${url} is this service's own`);
        if (url.endsWith('.svg')) continue; // the icon is an image, not part of the budget
        bytes += (await t.app.inject({ url })).rawPayload.length;
      }
      assert.doesNotMatch(res.body, /(src|href)="(https?:)?\/\//, `${name}: nothing from another origin`);
      assert.ok(bytes < 100 * 1024, `${name}: ${bytes} bytes`);
      context.diagnostic(`${name}: ${bytes} bytes (HTML ${Buffer.byteLength(res.body)})`);
    }
    for (const url of ['/account', '/account/email', '/account/password', '/account/sessions', '/account/sessions/everywhere', '/account/2fa', '/account/2fa/setup']) {
      await weigh(url, await get(jar, url));
    }
    const session = (await t.store.sessions.listActive(id, new Date()))[0];
    await weigh('/account/sessions/end', await get(jar, `/account/sessions/end?session=${session?.id}`));
    await weigh('/account/confirm', await get(jar, '/account/confirm?next=/account/password'));
    await weigh('setup: the QR page', await post(jar, '/account/2fa/setup', { password: who.password }));
    const secret = (await userOf(id)).totpSecret as string;
    await weigh('the recovery codes page', await post(jar, '/account/2fa/confirm', { code: TOTP.generate({ secret: Secret.fromBase32(secret) }) }));
    for (const url of ['/account/2fa/recovery-codes', '/account/2fa/disable']) await weigh(url, await get(jar, url));
  });

  it('shares the API routes\' limits: verification mails and re-authentications per user', async () => {
    const limited = await buildTestApp({ RATE_LIMIT_VERIFY_EMAIL_PER_USER: '2', RATE_LIMIT_REAUTH_PER_USER: '2' });
    const outer = t;
    t = limited;
    try {
      const { jar, who } = await signedIn();
      const token = (await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: who.email, password: who.password } })).json()
        .access_token as string;
      assert.equal((await t.app.inject({ method: 'POST', url: '/auth/verify-email/request', headers: bearer(token) })).statusCode, 202);
      const sent = await post(jar, '/account/verify-email', {});
      assert.equal(sent.statusCode, 303);
      assert.equal(sent.headers.location, '/account?done=sent');
      assertPage(await post(jar, '/account/verify-email', {}), 429, /Too many requests/);

      assert.equal((await t.app.inject({ method: 'POST', url: '/auth/2fa/totp/setup', headers: bearer(token), payload: { password: 'wrong' } })).statusCode, 403);
      assertPage(await post(jar, '/account/password', { current_password: 'wrong', new_password: 'a long new password' }), 403);
      assertPage(await post(jar, '/account/email', { email: newUserBody().email, password: who.password }), 429, /Too many requests/);
    } finally {
      t = outer;
      await limited.close();
    }
  });
});
