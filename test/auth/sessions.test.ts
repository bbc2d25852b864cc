import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, buildTestApp, newUserBody, register, signUp, type TestApp } from '../helpers/app.js';

interface Pair {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

describe('sessions: refresh, logout, logout-all', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  async function loginPair(email: string, password: string, userAgent = 'test-agent'): Promise<Pair> {
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password },
      headers: { 'user-agent': userAgent },
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  }
  const refresh = (token: string) => t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: token } });
  const me = (token: string) => t.app.inject({ url: '/users/me', headers: bearer(token) });
  async function account() {
    const body = newUserBody();
    const res = await register(t.app, body);
    return { id: res.json().id as string, ...body };
  }

  it('exchanges a refresh token for a new pair, once', async () => {
    const a = await account();
    const first = await loginPair(a.email, a.password);
    const res = await refresh(first.refresh_token);
    assert.equal(res.statusCode, 200);
    const second: Pair = res.json();
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.equal((await me(second.access_token)).statusCode, 200);
    const again = await refresh(first.refresh_token);
    assert.equal(again.statusCode, 401);
    assert.equal(again.json().code, 'INVALID_REFRESH_TOKEN');
  });

  it('revokes the whole family when a used refresh token comes back (theft detection)', async () => {
    const a = await account();
    const stolen = await loginPair(a.email, a.password);
    const legit = (await refresh(stolen.refresh_token)).json() as Pair;
    // The thief replays the token the owner already used...
    assert.equal((await refresh(stolen.refresh_token)).statusCode, 401);
    // ...and the owner's current refresh token is dead too: the session is revoked.
    assert.equal((await refresh(legit.refresh_token)).statusCode, 401);
    const events = await t.store.audit.list({ limit: 10, userId: a.id, type: 'refresh.reuse_detected' });
    assert.equal(events.length, 1);
  });

  it('lets exactly one of two concurrent refreshes with the same token win', async () => {
    const a = await account();
    const pair = await loginPair(a.email, a.password);
    const [x, y] = await Promise.all([refresh(pair.refresh_token), refresh(pair.refresh_token)]);
    assert.deepEqual([x.statusCode, y.statusCode].sort(), [200, 401]);
  });

  it('refuses malformed and unknown refresh tokens with 401 or 422', async () => {
    assert.equal((await refresh('x'.repeat(43))).statusCode, 401);
    assert.equal((await refresh('short')).statusCode, 401);
    const res = await t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: { $ne: null } } });
    assert.equal(res.statusCode, 422);
  });

  it('logout revokes this session only', async () => {
    const a = await account();
    const one = await loginPair(a.email, a.password);
    const two = await loginPair(a.email, a.password);
    const res = await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(one.access_token) });
    assert.equal(res.statusCode, 204);
    assert.equal((await refresh(one.refresh_token)).statusCode, 401);
    assert.equal((await refresh(two.refresh_token)).statusCode, 200);
  });

  it('logout-all revokes every session and kills outstanding access tokens at once', async () => {
    const a = await account();
    const one = await loginPair(a.email, a.password);
    const stolenAccess = (await loginPair(a.email, a.password)).access_token;
    assert.equal((await me(stolenAccess)).statusCode, 200);
    const res = await t.app.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(one.access_token) });
    assert.equal(res.statusCode, 204);
    assert.equal((await me(stolenAccess)).statusCode, 401, 'a stolen access token dies with logout-all');
    assert.equal((await me(one.access_token)).statusCode, 401);
    assert.equal((await refresh(one.refresh_token)).statusCode, 401);
    // Logging in again works, with the new token version.
    assert.equal((await me((await loginPair(a.email, a.password)).access_token)).statusCode, 200);
  });

  it('lists the sessions with their device and marks the current one; one can be revoked', async () => {
    const a = await account();
    const laptop = await loginPair(a.email, a.password, 'Laptop/1.0');
    const phone = await loginPair(a.email, a.password, 'Phone/2.0');
    const list = await t.app.inject({ url: '/auth/sessions', headers: bearer(laptop.access_token) });
    assert.equal(list.statusCode, 200);
    const sessions = list.json() as { id: string; user_agent: string; current: boolean; last_used_at: string }[];
    assert.deepEqual(sessions.map((s) => s.user_agent).sort(), ['Laptop/1.0', 'Phone/2.0']);
    assert.equal(sessions.filter((s) => s.current).length, 1);
    assert.equal(sessions.find((s) => s.current)?.user_agent, 'Laptop/1.0');
    const phoneSession = sessions.find((s) => s.user_agent === 'Phone/2.0')?.id as string;
    const del = await t.app.inject({ method: 'DELETE', url: `/auth/sessions/${phoneSession}`, headers: bearer(laptop.access_token) });
    assert.equal(del.statusCode, 204);
    assert.equal((await refresh(phone.refresh_token)).statusCode, 401);
    assert.equal((await refresh(laptop.refresh_token)).statusCode, 200);
  });

  it("cannot revoke another user's session (404)", async () => {
    const a = await account();
    const b = await account();
    const theirs = await loginPair(b.email, b.password);
    const mine = await loginPair(a.email, a.password);
    const list = (await t.app.inject({ url: '/auth/sessions', headers: bearer(theirs.access_token) })).json();
    const res = await t.app.inject({ method: 'DELETE', url: `/auth/sessions/${list[0].id}`, headers: bearer(mine.access_token) });
    assert.equal(res.statusCode, 404);
    assert.equal((await refresh(theirs.refresh_token)).statusCode, 200);
  });

  it('refuses refresh and access for a disabled user, and for a deleted one', async () => {
    const a = await account();
    const pair = await loginPair(a.email, a.password);
    await t.store.updateUser(a.id, { disabled: true });
    assert.equal((await refresh(pair.refresh_token)).statusCode, 401);
    assert.equal((await me(pair.access_token)).statusCode, 401);
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: a.email, password: a.password } });
    assert.equal(login.statusCode, 403);
    assert.equal(login.json().code, 'ACCOUNT_DISABLED');
    const wrong = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: a.email, password: 'nope-nope' } });
    assert.equal(wrong.statusCode, 401, 'a wrong password does not reveal that the account is disabled');

    const b = await account();
    const bPair = await loginPair(b.email, b.password);
    await t.store.deleteUser(b.id);
    assert.equal((await refresh(bPair.refresh_token)).statusCode, 401);
  });
});

describe('failed logins lock the account for a growing, capped time', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());
  const attempt = (email: string, password: string) =>
    t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });

  it('locks after 5 failures, refuses even the right password while locked, and unlocks after', async () => {
    const s = await signUp(t.app);
    for (let i = 0; i < 5; i++) assert.equal((await attempt(s.body.email, 'wrong-password')).statusCode, 401);
    const locked = await attempt(s.body.email, s.body.password);
    assert.equal(locked.statusCode, 429);
    assert.equal(locked.json().code, 'ACCOUNT_LOCKED');
    assert.ok(Number(locked.headers['retry-after']) >= 1);
    const user = await t.store.findUserById(s.id);
    assert.equal(user?.failedLogins, 5);
    // Time passes (the lock is 1 s after the 5th failure; move it into the past instead of sleeping).
    await t.store.updateUser(s.id, { lockedUntil: new Date(Date.now() - 1000) });
    assert.equal((await attempt(s.body.email, s.body.password)).statusCode, 200);
    const reset = await t.store.findUserById(s.id);
    assert.equal(reset?.failedLogins, 0);
    assert.equal(reset?.lockedUntil, null);
  });

  it('doubles the lock with each further failure, up to 15 minutes', async () => {
    const s = await signUp(t.app);
    await t.store.updateUser(s.id, { failedLogins: 40 });
    const before = Date.now();
    assert.equal((await attempt(s.body.email, 'wrong-password')).statusCode, 401);
    const lockedUntil = (await t.store.findUserById(s.id))?.lockedUntil?.getTime() ?? 0;
    assert.ok(lockedUntil - before <= 15 * 60 * 1000 + 1000 && lockedUntil - before >= 15 * 60 * 1000 - 1000, 'capped at 15 min');
    await t.store.updateUser(s.id, { failedLogins: 6, lockedUntil: null });
    const t0 = Date.now();
    await attempt(s.body.email, 'wrong-password');
    const seventh = ((await t.store.findUserById(s.id))?.lockedUntil?.getTime() ?? 0) - t0;
    assert.ok(seventh >= 3000 && seventh <= 5000, `7th failure locks ~4 s, got ${seventh} ms`);
  });

  it('records failures and locks in the audit log', async () => {
    const s = await signUp(t.app);
    await attempt(s.body.email, 'wrong-password');
    const events = await t.store.audit.list({ limit: 10, userId: s.id, type: 'login.failed' });
    assert.equal(events.length, 1);
    assert.equal(JSON.parse(events[0]?.detail ?? '{}').reason, 'wrong_password');
  });
});

describe('POST /auth/token (OAuth2 password form)', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());
  const form = (fields: Record<string, string>) =>
    t.app.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(fields).toString(),
    });

  it('logs in with the email or the username as "username"', async () => {
    const s = await signUp(t.app);
    for (const username of [s.body.email, s.body.username]) {
      const res = await form({ grant_type: 'password', username, password: s.body.password });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal((await t.app.inject({ url: '/users/me', headers: bearer(res.json().access_token) })).json().id, s.id);
    }
  });

  it('answers a wrong password 401, another grant type 400, and a missing field 422', async () => {
    const s = await signUp(t.app);
    assert.equal((await form({ username: s.body.email, password: 'wrong-one' })).statusCode, 401);
    const grant = await form({ grant_type: 'client_credentials', username: s.body.email, password: s.body.password });
    assert.equal(grant.statusCode, 400);
    assert.equal(grant.json().code, 'UNSUPPORTED_GRANT_TYPE');
    assert.equal((await form({ username: s.body.email })).statusCode, 422);
  });

  it('is the only route that takes a form body', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'username=x&email=x@example.com&password=whatever1',
    });
    assert.equal(res.statusCode, 415);
  });
});
