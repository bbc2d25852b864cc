/**
 * Passkeys on the pages, through app.inject with a software authenticator: the sign-in page offers
 * them (button and autofill), /account/passkeys adds one only after a fresh sign-in, signs in with
 * one (a browser session, no password), renames and removes with a confirmation, refuses forms
 * without their CSRF token, and an admin's user page lists and removes a user's passkeys.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, newUserBody, signUpAdmin, type TestApp } from '../helpers/app.js';
import { createSoftAuthenticator } from '../helpers/soft-authenticator.js';

interface Jar {
  cookies: Map<string, string>;
  csrf: string;
}

const CSRF_RE = /(?:name="_csrf" value|data-csrf)="([^"]+)"/;
const ORIGIN = 'http://localhost:8000';

describe('passkeys on the pages', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
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
  const newJar = (): Jar => ({ cookies: new Map(), csrf: '' });

  async function get(jar: Jar, url: string) {
    const res = await t.app.inject({ url, headers: { accept: 'text/html', cookie: cookieHeader(jar) } });
    keepCookies(jar, res.headers['set-cookie']);
    const token = CSRF_RE.exec(res.body)?.[1];
    if (token !== undefined) jar.csrf = token;
    return res;
  }

  async function form(jar: Jar, url: string, fields: Record<string, string>) {
    const res = await t.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', cookie: cookieHeader(jar) },
      payload: new URLSearchParams({ _csrf: jar.csrf, ...fields }).toString(),
    });
    keepCookies(jar, res.headers['set-cookie']);
    return res;
  }

  /** What the islands send: JSON, with the page's CSRF token in the body. */
  async function island(jar: Jar, url: string, body: Record<string, unknown> = {}, csrf: string | null = jar.csrf) {
    const res = await t.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', accept: 'application/json', cookie: cookieHeader(jar), 'sec-fetch-site': 'same-origin' },
      payload: csrf === null ? body : { ...body, _csrf: csrf },
    });
    keepCookies(jar, res.headers['set-cookie']);
    return res;
  }

  async function signedIn() {
    const who = newUserBody();
    const created = await t.app.inject({ method: 'POST', url: '/auth/register', payload: who });
    assert.equal(created.statusCode, 201);
    const jar = newJar();
    await get(jar, '/sign-in');
    const res = await form(jar, '/sign-in', { login: who.email, password: who.password, next: '/account' });
    assert.equal(res.statusCode, 303);
    return { jar, who, id: created.json().id as string };
  }

  async function addPasskey(jar: Jar, name = 'Work laptop') {
    const authn = createSoftAuthenticator({ origin: ORIGIN, rpId: 'localhost' });
    const page = await get(jar, '/account/passkeys');
    assert.match(page.body, /data-passkey-register/);
    const options = await island(jar, '/account/passkeys/options');
    assert.equal(options.statusCode, 200, options.body);
    const done = await island(jar, '/account/passkeys', { name, response: authn.register(options.json()) });
    assert.equal(done.statusCode, 200, done.body);
    assert.deepEqual(done.json(), { redirect: '/account/passkeys?done=added' });
    return authn;
  }

  it('offers a passkey on the sign-in page: the button (shown by its island) and autofill on the login field', async () => {
    const res = await get(newJar(), '/sign-in');
    assert.match(res.body, /autocomplete="username webauthn"/);
    assert.match(res.body, /<button type="button" class="secondary" id="passkey-button">Sign in with a passkey<\/button>/);
    assert.match(res.body, /<script type="module" src="\/assets\/passkey-sign-in-[\w-]+\.js"><\/script>/);
  });

  it('adds a passkey from the account page, lists it, and signs in with it alone (no password)', async () => {
    const { jar, who, id } = await signedIn();
    const authn = await addPasskey(jar);
    const list = await get(jar, '/account/passkeys?done=added');
    assert.match(list.body, /Your passkey is added/);
    assert.match(list.body, /<h2>Work laptop<\/h2>/);

    const browser = newJar();
    await get(browser, '/sign-in');
    const options = await island(browser, '/sign-in/passkey/options');
    assert.equal(options.statusCode, 200);
    const res = await island(browser, '/sign-in/passkey', { response: authn.authenticate(options.json()), next: '/account' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { redirect: '/account' });
    assert.ok(browser.cookies.has('sid'));
    const account = await get(browser, '/account');
    assert.equal(account.statusCode, 200);
    assert.ok(account.body.includes(who.username));
    const events = (await t.store.audit.list({ limit: 10, userId: id })).map((e) => e.type);
    assert.ok(events.includes('passkey.used'));
  });

  it('asks a stale sign-in to confirm it is you before adding (server-side too)', async () => {
    const { jar } = await signedIn();
    await get(jar, '/account/passkeys');
    const csrf = jar.csrf;
    t.advance(6 * 60_000);
    try {
      // The service's clock moved 6 minutes on: the session's start is older than the 5 allowed.
      const refused = await island(jar, '/account/passkeys/options', {}, csrf);
      assert.equal(refused.statusCode, 403);
      assert.equal(refused.json().code, 'REAUTH_REQUIRED');
    } finally {
      t.advance(-6 * 60_000);
    }
  });

  it('refuses the islands’ posts without the CSRF token', async () => {
    const { jar } = await signedIn();
    await get(jar, '/account/passkeys');
    const res = await island(jar, '/account/passkeys/options', {}, null);
    assert.equal(res.statusCode, 403);
    const anonymous = newJar();
    await get(anonymous, '/sign-in');
    assert.equal((await island(anonymous, '/sign-in/passkey/options', {}, 'forged')).statusCode, 403);
  });

  it('answers junk ceremonies with a 4xx JSON sentence, never a 5xx', async () => {
    const anonymous = newJar();
    await get(anonymous, '/sign-in');
    for (const body of [{}, { response: 'x' }, { response: { id: 'x', response: {} } }, { response: [] }]) {
      const res = await island(anonymous, '/sign-in/passkey', body);
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${res.statusCode} ${res.body}`);
      assert.equal(typeof res.json().detail, 'string');
    }
  });

  it('renames and removes a passkey, each through its own page', async () => {
    const { jar } = await signedIn();
    const authn = await addPasskey(jar);
    const id = authn.credentials[0]?.id ?? '';
    const rename = await get(jar, `/account/passkeys/rename?id=${id}`);
    assert.equal(rename.statusCode, 200);
    const blank = await form(jar, '/account/passkeys/rename', { id, name: '' });
    assert.equal(blank.statusCode, 422);
    assert.equal((await form(jar, '/account/passkeys/rename', { id, name: 'Phone' })).statusCode, 303);
    assert.match((await get(jar, '/account/passkeys')).body, /<h2>Phone<\/h2>/);
    const confirm = await get(jar, `/account/passkeys/remove?id=${id}`);
    assert.match(confirm.body, /Remove this passkey\?/);
    assert.equal((await form(jar, '/account/passkeys/remove', { id })).statusCode, 303);
    assert.match((await get(jar, '/account/passkeys?done=removed')).body, /You have no passkeys yet/);
    const gone = await form(jar, '/account/passkeys/remove', { id });
    assert.equal(gone.statusCode, 404);
  });

  it("refuses to remove a passwordless user's last passkey on the page", async () => {
    const { jar, id } = await signedIn();
    const authn = await addPasskey(jar);
    await t.store.updateUser(id, { passwordHash: '' });
    await get(jar, '/account/passkeys');
    const res = await form(jar, '/account/passkeys/remove', { id: authn.credentials[0]?.id ?? '' });
    assert.equal(res.statusCode, 409);
    assert.match(res.body, /only way to sign in/);
  });

  it("shows a user's passkeys on the admin's user page, and removes one after a confirmation", async () => {
    const { jar, id } = await signedIn();
    const authn = await addPasskey(jar, 'Lost phone');
    const admin = await signUpAdmin(t);
    const adminJar = newJar();
    await get(adminJar, '/sign-in');
    await form(adminJar, '/sign-in', { login: admin.body.email, password: admin.body.password, next: '/' });
    const page = await get(adminJar, `/manage/users/${id}`);
    assert.match(page.body, /Lost phone/);
    const passkeyId = authn.credentials[0]?.id ?? '';
    const confirm = await get(adminJar, `/manage/users/${id}/passkeys/remove?passkey=${passkeyId}`);
    assert.match(confirm.body, /Remove the passkey &quot;Lost phone&quot;|Remove the passkey "Lost phone"/);
    const res = await form(adminJar, `/manage/users/${id}/passkeys/remove`, { passkey: passkeyId });
    assert.equal(res.statusCode, 303);
    assert.deepEqual(await t.store.passkeys.listForUser(id), []);
    const removed = (await t.store.audit.list({ limit: 5, userId: id, type: 'passkey.removed' }))[0];
    assert.equal(removed?.actorId, admin.id);
  });
});
