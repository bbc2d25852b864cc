import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { hashToken } from '../../../src/auth/sessions/session-service.js';
import { newId } from '../../../src/users/ids.js';
import { bearer, buildTestApp, newUserBody, register, signUp, signUpAdmin as signUpAdminIn, type TestApp } from '../../helpers/app.js';

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
    // ...and the owner's current refresh token is dead too: the session is revoked, and with it
    // every access token it gave out (whoever copied the refresh token may hold those too).
    assert.equal((await refresh(legit.refresh_token)).statusCode, 401);
    assert.equal((await me(legit.access_token)).statusCode, 401);
    assert.equal((await me(stolen.access_token)).statusCode, 401);
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

  it('logout revokes this session only, its access tokens included, at once', async () => {
    const a = await account();
    const one = await loginPair(a.email, a.password);
    const two = await loginPair(a.email, a.password);
    const res = await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(one.access_token) });
    assert.equal(res.statusCode, 204);
    assert.equal((await refresh(one.refresh_token)).statusCode, 401);
    const after = await me(one.access_token);
    assert.equal(after.statusCode, 401, 'the logged-out access token is refused before it expires');
    assert.equal(after.json().code, 'INVALID_TOKEN');
    assert.equal((await me(two.access_token)).statusCode, 200, "the other session's access token still works");
    assert.equal((await refresh(two.refresh_token)).statusCode, 200);
  });

  it('refuses a session past its expiry to refresh', async () => {
    const a = await account();
    const user = await t.store.findUserByEmail(a.email);
    assert.ok(user);
    const token = randomBytes(32).toString('base64url');
    const now = Date.now();
    const session = (id: string, expiresAt: number) => ({
      id,
      userId: user.id,
      kind: 'api' as const,
      createdAt: new Date(now - 31 * 24 * 3600 * 1000),
      lastUsedAt: new Date(now - 24 * 3600 * 1000),
      expiresAt: new Date(expiresAt),
      revokedAt: null,
      userAgent: 'Old laptop',
      ip: null,
    });
    // A session whose 30 days ended a second ago, never revoked, its refresh token never used.
    await t.store.sessions.create(session(newId(), now - 1000), hashToken(token));
    const res = await refresh(token);
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().code, 'INVALID_REFRESH_TOKEN');
    // The same, a minute before its end, still refreshes: what refused it was the expiry.
    const live = randomBytes(32).toString('base64url');
    await t.store.sessions.create(session(newId(), now + 60_000), hashToken(live));
    assert.equal((await refresh(live)).statusCode, 200);
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
    assert.equal((await me(phone.access_token)).statusCode, 401, "the revoked device's access token stops at once");
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

  it('keeps tokens from before a disabling dead after the account is enabled again', async () => {
    const a = await account();
    const admin = await signUpAdminIn(t);
    const pair = await loginPair(a.email, a.password);
    const patch = (disabled: boolean) =>
      t.app.inject({ method: 'PATCH', url: `/users/${a.id}`, headers: bearer(admin.token), payload: { disabled } });
    assert.equal((await patch(true)).statusCode, 200);
    assert.equal((await patch(false)).statusCode, 200);
    assert.equal((await me(pair.access_token)).statusCode, 401, 'the access token was revoked by the disabling');
    assert.equal((await refresh(pair.refresh_token)).statusCode, 401, 'so was the session');
    assert.equal((await me((await loginPair(a.email, a.password)).access_token)).statusCode, 200);
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
    // The per-account rate limit is lifted here so that what is tested is the lock alone.
    t = await buildTestApp({ RATE_LIMIT_LOGIN_PER_ACCOUNT: '1000', RATE_LIMIT_LOGIN_PER_IP: '100000' });
  });
  after(() => t.close());
  const attempt = (email: string, password: string, ip = '198.51.100.1') =>
    t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password }, remoteAddress: ip });

  it('locks after 5 failures, refuses even the right password while locked, and unlocks after', async () => {
    const s = await signUp(t.app);
    for (let i = 0; i < 5; i++) assert.equal((await attempt(s.body.email, 'wrong-password')).statusCode, 401);
    const locked = await attempt(s.body.email, s.body.password);
    assert.equal(locked.statusCode, 429);
    assert.equal(locked.json().code, 'ACCOUNT_LOCKED');
    assert.equal(locked.headers['retry-after'], '1');
    // The lock after the 5th failure is 1 s: move the clock instead of sleeping.
    t.advance(1100);
    assert.equal((await attempt(s.body.email, s.body.password)).statusCode, 200);
    // A success starts the count again: four more failures do not lock.
    for (let i = 0; i < 4; i++) assert.equal((await attempt(s.body.email, 'wrong-password')).statusCode, 401);
    assert.equal((await attempt(s.body.email, s.body.password)).statusCode, 200);
  });

  it('doubles the lock with each further failure', async () => {
    const s = await signUp(t.app);
    for (let i = 0; i < 5; i++) await attempt(s.body.email, 'wrong-password');
    const waits: string[] = [];
    for (let i = 0; i < 4; i++) {
      const locked = await attempt(s.body.email, 'wrong-password');
      waits.push(String(locked.headers['retry-after']));
      t.advance(Number(locked.headers['retry-after']) * 1000 + 10);
      assert.equal((await attempt(s.body.email, 'wrong-password')).statusCode, 401, 'one attempt after each lock');
    }
    assert.deepEqual(waits, ['1', '2', '4', '8']);
  });

  it("keeps a stranger's guesses from another address from locking the owner out", async () => {
    const s = await signUp(t.app);
    for (let i = 0; i < 8; i++) await attempt(s.body.email, 'wrong-password', '203.0.113.66');
    assert.equal((await attempt(s.body.email, s.body.password, '203.0.113.66')).statusCode, 429, 'the guessing address is locked');
    assert.equal((await attempt(s.body.email, s.body.password, '198.51.100.7')).statusCode, 200, 'the owner is not');
  });

  it('locks the account from everywhere after 50 failures from many addresses, until a reset or the lock ends', async () => {
    const s = await signUp(t.app);
    for (let i = 0; i < 50; i++) {
      assert.equal((await attempt(s.body.email, 'wrong-password', `192.0.2.${i + 1}`)).statusCode, 401);
    }
    const locked = await attempt(s.body.email, s.body.password, '198.51.100.8');
    assert.equal(locked.statusCode, 429);
    assert.equal(locked.json().code, 'ACCOUNT_LOCKED');
    t.advance(1100);
    assert.equal((await attempt(s.body.email, s.body.password, '198.51.100.8')).statusCode, 200);
  });

  it('answers an unknown account exactly as a known one, lock included (no enumeration)', async () => {
    const s = await signUp(t.app);
    const unknown = `nobody-${s.body.email}`;
    const answers = async (email: string) => {
      const seen: string[] = [];
      for (let i = 0; i < 7; i++) {
        const res = await attempt(email, 'wrong-password', '198.51.100.9');
        seen.push(`${res.statusCode} ${res.json().code} ${res.headers['retry-after'] ?? '-'}`);
      }
      return seen;
    };
    const known = await answers(s.body.email);
    assert.deepEqual(await answers(unknown), known);
    assert.deepEqual(known.slice(4), ['401 INVALID_CREDENTIALS -', '429 ACCOUNT_LOCKED 1', '429 ACCOUNT_LOCKED 1']);
  });

  it('counts an email and a username of one account as one', async () => {
    const s = await signUp(t.app);
    const viaForm = (username: string) =>
      t.app.inject({
        method: 'POST',
        url: '/auth/token',
        payload: `username=${encodeURIComponent(username)}&password=wrong-password`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        remoteAddress: '198.51.100.10',
      });
    for (let i = 0; i < 3; i++) assert.equal((await attempt(s.body.email, 'wrong-password', '198.51.100.10')).statusCode, 401);
    for (let i = 0; i < 2; i++) assert.equal((await viaForm(s.body.username.toUpperCase())).statusCode, 401);
    assert.equal((await attempt(s.body.email, s.body.password, '198.51.100.10')).statusCode, 429);
  });

  it('lets at most 5 of 20 concurrent attempts run (19 wrong, 1 right): the lock cannot be raced', async () => {
    const s = await signUp(t.app);
    const passwords = Array.from({ length: 20 }, (_, i) => (i === 13 ? s.body.password : `wrong-${i}`));
    const answers = await Promise.all(passwords.map((p) => attempt(s.body.email, p, '198.51.100.11')));
    const statuses = answers.map((r) => r.statusCode);
    assert.equal(statuses.filter((c) => c === 429).length, 15, `statuses: ${statuses.join(',')}`);
    assert.ok(statuses.filter((c) => c === 200).length <= 1);
  });

  it('records failures and locks in the audit log', async () => {
    const s = await signUp(t.app);
    for (let i = 0; i < 5; i++) await attempt(s.body.email, 'wrong-password', '198.51.100.12');
    const failed = await t.store.audit.list({ limit: 10, userId: s.id, type: 'login.failed' });
    assert.equal(failed.length, 5);
    assert.equal(JSON.parse(failed[0]?.detail ?? '{}').reason, 'wrong_password');
    const locked = await t.store.audit.list({ limit: 10, userId: s.id, type: 'login.locked' });
    assert.equal(locked.length, 1);
    assert.deepEqual(JSON.parse(locked[0]?.detail ?? '{}'), { scope: 'source', attempts: 5 });
    assert.equal(locked[0]?.ip, '198.51.100.12');
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
