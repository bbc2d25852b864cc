/**
 * How long a browser stays signed in: WEB_SESSION_TTL bounds the session row (absolute, not
 * sliding), the cookie itself has no Max-Age (it goes when the browser closes), and a session past
 * its end opens nothing: the page shows the visitor signed out and clears the cookie.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { hashToken } from '../../src/auth/sessions/session-service.js';
import { newId } from '../../src/users/ids.js';
import { buildTestApp, newUserBody, type TestApp } from '../helpers/app.js';

const HTML = { accept: 'text/html' };
const H1_RE = /<h1[^>]*>([^<]*)<\/h1>/;

describe('browser sessions: their lifetime', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ WEB_SESSION_TTL: '600' });
  });
  after(() => t.close());

  async function register() {
    const who = newUserBody();
    const res = await t.app.inject({ method: 'POST', url: '/auth/register', payload: who });
    assert.equal(res.statusCode, 201, res.body);
    return { who, id: res.json().id as string };
  }

  it('a sign-in lasts WEB_SESSION_TTL, in a cookie that ends with the browser', async () => {
    const { who, id } = await register();
    const form = await t.app.inject({ url: '/sign-in', headers: HTML });
    const anonymous = form.cookies.find((c) => c.name === 'csrf')?.value as string;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form.body)?.[1] as string;
    const started = Date.now();
    const res = await t.app.inject({
      method: 'POST',
      url: '/sign-in',
      headers: { ...HTML, 'content-type': 'application/x-www-form-urlencoded', cookie: `csrf=${anonymous}` },
      payload: new URLSearchParams({ _csrf: csrf, login: who.email, password: who.password }).toString(),
    });
    assert.equal(res.statusCode, 303, res.body);
    const sid = res.cookies.find((c) => c.name === 'sid');
    assert.ok(sid, 'a session cookie');
    assert.equal(sid.maxAge, undefined, 'no Max-Age');
    assert.equal(sid.expires, undefined, 'no Expires');
    assert.equal(sid.httpOnly, true);
    assert.equal(sid.sameSite, 'Lax');

    const [session] = (await t.store.sessions.listActive(id, new Date())).filter((s) => s.kind === 'browser');
    assert.ok(session, 'a browser session row');
    const lifetime = session.expiresAt.getTime() - session.createdAt.getTime();
    assert.equal(lifetime, 600_000);
    assert.ok(session.expiresAt.getTime() >= started + 600_000 - 1000 && session.expiresAt.getTime() <= Date.now() + 600_000);

    // Using it does not move its end.
    await t.app.inject({ url: '/account', headers: { ...HTML, cookie: `sid=${sid.value}` } });
    const [again] = (await t.store.sessions.listActive(id, new Date())).filter((s) => s.kind === 'browser');
    assert.equal(again?.expiresAt.getTime(), session.expiresAt.getTime());
  });

  it('a session past its end opens nothing, and its cookie is cleared', async () => {
    const { id } = await register();
    const token = randomBytes(32).toString('base64url');
    const created = new Date(Date.now() - 700_000);
    await t.store.sessions.create(
      { id: newId(), userId: id, kind: 'browser', createdAt: created, lastUsedAt: created, expiresAt: new Date(Date.now() - 100_000), revokedAt: null, userAgent: 'a browser', ip: '127.0.0.1' },
      hashToken(token),
    );
    const res = await t.app.inject({ url: '/account', headers: { ...HTML, cookie: `sid=${token}` } });
    assert.equal(res.statusCode, 303, 'sent to sign in');
    assert.match(String(res.headers.location), /^\/sign-in\?next=%2Faccount$/);
    const cleared = res.cookies.find((c) => c.name === 'sid');
    assert.ok(cleared && (cleared.maxAge === 0 || (cleared.expires as Date).getTime() <= Date.now()), 'the cookie is cleared');
    const home = await t.app.inject({ url: '/', headers: { ...HTML, cookie: `sid=${token}` } });
    assert.equal(H1_RE.exec(home.body)?.[1], 'Welcome');
  });
});
