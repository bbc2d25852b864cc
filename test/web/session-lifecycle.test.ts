/**
 * A browser session's life beside the API's: its cookies on https pages, a sign-in that replaces
 * the session it finds, and the API's actions that end it at once (an admin disabling the user,
 * logout-all with an access token); the login limit on the sign-in page as on POST /auth/login.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, buildTestApp, newUserBody, signUpAdmin, type TestApp } from '../helpers/app.js';

const HTML = { accept: 'text/html' };
const FORM = { ...HTML, 'content-type': 'application/x-www-form-urlencoded' };

interface Jar {
  /** Cookie names to values, as the browser keeps them. */
  cookies: Map<string, string>;
}

const header = (jar: Jar) => [...jar.cookies].map(([name, value]) => `${name}=${value}`).join('; ');

function keep(jar: Jar, res: { cookies: { name: string; value: string }[] }) {
  for (const c of res.cookies) {
    if (c.value === '') jar.cookies.delete(c.name);
    else jar.cookies.set(c.name, c.value);
  }
}

/** GET /sign-in, then POST it with the page's CSRF token: the answer and the jar after it. */
async function signIn(t: TestApp, jar: Jar, login: string, password: string, extra: Record<string, string> = {}) {
  const form = await t.app.inject({ url: '/sign-in', headers: { ...HTML, ...extra, cookie: header(jar) } });
  keep(jar, form);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(form.body)?.[1];
  assert.ok(csrf, 'the form carries a CSRF token');
  const res = await t.app.inject({
    method: 'POST',
    url: '/sign-in',
    headers: { ...FORM, ...extra, cookie: header(jar) },
    payload: new URLSearchParams({ _csrf: csrf, login, password }).toString(),
  });
  keep(jar, res);
  return res;
}

/** Whether the cookie jar opens /account (200) or is sent to sign in (303). */
async function accountStatus(t: TestApp, cookie: string, extra: Record<string, string> = {}) {
  return (await t.app.inject({ url: '/account', headers: { ...HTML, ...extra, cookie } })).statusCode;
}

async function register(t: TestApp) {
  const who = newUserBody();
  const res = await t.app.inject({ method: 'POST', url: '/auth/register', payload: who });
  assert.equal(res.statusCode, 201, res.body);
  return { who, id: res.json().id as string };
}

describe('browser sessions beside the API', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('replaces the session it finds on a new sign-in: the old cookie opens nothing, its row is ended', async () => {
    const { who, id } = await register(t);
    const jar: Jar = { cookies: new Map() };
    assert.equal((await signIn(t, jar, who.email, who.password)).statusCode, 303);
    const first = jar.cookies.get('sid') as string;
    // Signed in, the form's token is the session's (any of its pages carries it); the stale token
    // of the form shown before signing in is refused (403), which is tested with the CSRF checks.
    const account = await t.app.inject({ url: '/account', headers: { ...HTML, cookie: header(jar) } });
    assert.equal(account.statusCode, 200);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(account.body)?.[1] as string;
    const again = await t.app.inject({
      method: 'POST',
      url: '/sign-in',
      headers: { ...FORM, cookie: header(jar) },
      payload: new URLSearchParams({ _csrf: csrf, login: who.username, password: who.password }).toString(),
    });
    keep(jar, again);
    assert.equal(again.statusCode, 303, again.body);
    const second = jar.cookies.get('sid') as string;
    assert.notEqual(second, first, 'a new session id');
    assert.equal(await accountStatus(t, `sid=${second}`), 200);
    assert.equal(await accountStatus(t, `sid=${first}`), 303, 'the session signed in over is over');
    const browser = (await t.store.sessions.listActive(id, new Date())).filter((s) => s.kind === 'browser');
    assert.equal(browser.length, 1, 'one browser session left');
  });

  it('never keeps a session id planted before sign-in (fixation)', async () => {
    const { who } = await register(t);
    const planted = 'A'.repeat(43);
    const jar: Jar = { cookies: new Map([['sid', planted]]) };
    assert.equal((await signIn(t, jar, who.email, who.password)).statusCode, 303);
    const sid = jar.cookies.get('sid') as string;
    assert.notEqual(sid, planted);
    assert.equal(await accountStatus(t, `sid=${planted}`), 303);
  });

  it("ends the browser session at once when an admin disables the user, and it stays ended after re-enabling", async () => {
    const admin = await signUpAdmin(t);
    const { who, id } = await register(t);
    const jar: Jar = { cookies: new Map() };
    assert.equal((await signIn(t, jar, who.email, who.password)).statusCode, 303);
    const cookie = `sid=${jar.cookies.get('sid')}`;
    assert.equal(await accountStatus(t, cookie), 200);

    const off = await t.app.inject({ method: 'PATCH', url: `/users/${id}`, headers: bearer(admin.token), payload: { disabled: true } });
    assert.equal(off.statusCode, 200, off.body);
    assert.equal(await accountStatus(t, cookie), 303);
    const on = await t.app.inject({ method: 'PATCH', url: `/users/${id}`, headers: bearer(admin.token), payload: { disabled: false } });
    assert.equal(on.statusCode, 200, on.body);
    assert.equal(await accountStatus(t, cookie), 303, 'not revived by re-enabling');
  });

  it('ends the browser session when the user logs out everywhere through the API', async () => {
    const { who } = await register(t);
    const jar: Jar = { cookies: new Map() };
    assert.equal((await signIn(t, jar, who.email, who.password)).statusCode, 303);
    const cookie = `sid=${jar.cookies.get('sid')}`;
    const token = (await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: who.email, password: who.password } })).json()
      .access_token as string;
    const all = await t.app.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(token) });
    assert.ok([200, 204].includes(all.statusCode), all.body);
    assert.equal(await accountStatus(t, cookie), 303);
  });
});

describe('the sign-in page under the login limit', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ RATE_LIMIT_LOGIN_PER_IP: '4' });
  });
  after(() => t.close());

  it('applies the login limit per address to the sign-in page as to POST /auth/login (a 429 page)', async () => {
    const { who } = await register(t);
    const from = { 'x-forwarded-for': '203.0.113.9' }; // not trusted (no TRUST_PROXY): the socket's address counts
    const jar: Jar = { cookies: new Map() };
    const answers: number[] = [];
    for (let i = 0; i < 6; i++) answers.push((await signIn(t, jar, who.email, `wrong-password-${i}`, from)).statusCode);
    assert.ok(answers.includes(429), `answers: ${answers.join(' ')}`);
    const limited = await signIn(t, jar, who.email, who.password);
    assert.equal(limited.statusCode, 429, 'the right password waits too: the address is limited');
    assert.match(limited.headers['content-type'] as string, /text\/html/);
    assert.ok(limited.headers['retry-after'], 'says when to come back');
    const api = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: who.email, password: who.password } });
    assert.equal(api.statusCode, 429, 'the page and the API share the counter');
    assert.equal(api.json().code, 'RATE_LIMITED', 'the limit, not the account lock (4 failures are below it)');
  });
});

describe('browser sessions on https pages', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ PUBLIC_URL: 'https://school.example' });
  });
  after(() => t.close());

  it('names its cookies __Host-, Secure, HttpOnly, Path=/ and no Domain, and ignores the plain names', async () => {
    const { who } = await register(t);
    const https = { host: 'school.example', origin: 'https://school.example' };
    const jar: Jar = { cookies: new Map() };
    const res = await signIn(t, jar, who.email, who.password, https);
    assert.equal(res.statusCode, 303, res.body);
    for (const name of ['__Host-csrf', '__Host-sid']) {
      const set = res.cookies.find((c) => c.name === name) ?? undefined;
      const seen = set ?? (await t.app.inject({ url: '/sign-in', headers: HTML })).cookies.find((c) => c.name === name);
      assert.ok(seen, `${name} is set`);
      assert.equal(seen.secure, true, `${name} is Secure`);
      assert.equal(seen.httpOnly, true, `${name} is HttpOnly`);
      assert.equal(seen.path, '/', `${name} has Path=/`);
      assert.equal(seen.domain, undefined, `${name} has no Domain`);
    }
    assert.equal(jar.cookies.has('sid'), false, 'no plain-named cookie');
    const sid = jar.cookies.get('__Host-sid') as string;
    assert.equal(await accountStatus(t, `__Host-sid=${sid}`, https), 200);
    assert.equal(await accountStatus(t, `sid=${sid}`, https), 303, 'a cookie without the prefix (one a sub-domain could set) opens nothing');
  });
});
