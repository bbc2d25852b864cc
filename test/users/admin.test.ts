import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { hashToken } from '../../src/auth/sessions/session-service.js';
import { bearer, buildTestApp, newUserBody, signUp, signUpAdmin, type TestApp } from '../helpers/app.js';

type Session = Awaited<ReturnType<typeof signUp>>;

interface Pair {
  access_token: string;
  refresh_token: string;
}

describe('PATCH /users/{user_id}', () => {
  let t: TestApp;
  let admin: Session;
  before(async () => {
    t = await buildTestApp();
    admin = await signUpAdmin(t);
  });
  after(() => t.close());

  const patch = (id: string, token: string, payload: Record<string, unknown>) =>
    t.app.inject({ method: 'PATCH', url: `/users/${id}`, headers: bearer(token), payload });
  const me = (token: string) => t.app.inject({ url: '/users/me', headers: bearer(token) });
  const refresh = (token: string) => t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: token } });
  const loginRes = (email: string, password: string) =>
    t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
  async function loginPair(email: string, password: string): Promise<Pair> {
    const res = await loginRes(email, password);
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  }
  /** Another enabled admin, so that the one under test is not the last. */
  async function createAdmin(token = admin.token) {
    const body = newUserBody({ role: 'admin' });
    const res = await t.app.inject({ method: 'POST', url: '/users', headers: bearer(token), payload: body });
    assert.equal(res.statusCode, 201, res.body);
    const pair = await loginPair(body.email, body.password);
    return { id: res.json().id as string, token: pair.access_token, pair, body };
  }

  it('lets an admin change role, disabled, full_name, username and email of anyone', async () => {
    const s = await signUp(t.app);
    const changes = {
      role: 'teacher',
      full_name: 'Changed Name',
      username: `renamed_${s.id.slice(-8)}`,
      email: `renamed_${s.id.slice(-8)}@example.com`,
      disabled: true,
    };
    const res = await patch(s.id, admin.token, changes);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.role, 'teacher');
    assert.equal(body.full_name, 'Changed Name');
    assert.equal(body.username, changes.username);
    assert.equal(body.email, changes.email);
    assert.equal(body.disabled, true);
    const stored = await t.store.findUserById(s.id);
    assert.equal(stored?.role, 'teacher');
    assert.equal(stored?.disabled, true);
  });

  it('lets a user change their own full_name and username, and nothing else (403)', async () => {
    const s = await signUp(t.app);
    const ok = await patch(s.id, s.token, { full_name: 'Me Myself', username: `me_${s.id.slice(-10)}` });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().full_name, 'Me Myself');
    assert.equal(ok.json().username, `me_${s.id.slice(-10)}`);
    assert.equal((await patch(s.id, s.token, { full_name: null })).json().full_name, null);

    for (const forbidden of [{ role: 'admin' }, { role: 'student' }, { disabled: false }, { email: 'new@example.com' }]) {
      const res = await patch(s.id, s.token, { full_name: 'Sneaky', ...forbidden });
      assert.equal(res.statusCode, 403, JSON.stringify(forbidden));
      assert.equal(res.json().code, 'FORBIDDEN');
    }
    const stored = await t.store.findUserById(s.id);
    assert.equal(stored?.role, 'student');
    assert.equal(stored?.fullName, null, 'a refused request changes nothing');
    assert.equal(stored?.email, s.body.email);
  });

  it("refuses a user changing someone else, existing or not, with the same 403", async () => {
    const s = await signUp(t.app);
    const other = await signUp(t.app);
    const res = await patch(other.id, s.token, { full_name: 'Not Yours' });
    assert.equal(res.statusCode, 403);
    const missing = await patch('0123456789abcdef01234567', s.token, { full_name: 'Nobody' });
    assert.equal(missing.statusCode, 403);
    assert.equal((await t.store.findUserById(other.id))?.fullName, other.body.full_name);
  });

  it('answers 404 to an admin for an unknown id, 401 without a token, 422 for a bad body', async () => {
    assert.equal((await patch('0123456789abcdef01234567', admin.token, { full_name: 'x' })).statusCode, 404);
    const anon = await t.app.inject({ method: 'PATCH', url: `/users/${admin.id}`, payload: { full_name: 'x' } });
    assert.equal(anon.statusCode, 401);
    const s = await signUp(t.app);
    assert.equal((await patch(s.id, admin.token, { role: 'superuser' })).statusCode, 422);
    assert.equal((await patch(s.id, admin.token, { email: 'not-an-email' })).statusCode, 422);
    assert.equal((await patch(s.id, admin.token, { username: 'ab' })).statusCode, 422);
    assert.equal((await patch(s.id, admin.token, { disabled: 'yes' })).statusCode, 422);
  });

  it('answers 400 USER_EXISTS for a taken email (any case) or username, like registration', async () => {
    const s = await signUp(t.app);
    const other = await signUp(t.app);
    const byUsername = await patch(s.id, s.token, { username: other.body.username });
    assert.equal(byUsername.statusCode, 400);
    assert.equal(byUsername.json().code, 'USER_EXISTS');
    const byEmail = await patch(s.id, admin.token, { email: other.body.email.toUpperCase() });
    assert.equal(byEmail.statusCode, 400);
    assert.equal(byEmail.json().code, 'USER_EXISTS');
    // Their own values are not a conflict.
    const same = await patch(s.id, s.token, { username: s.body.username, full_name: 'Same Username' });
    assert.equal(same.statusCode, 200, same.body);
  });

  it('marks a changed email as not verified', async () => {
    const s = await signUp(t.app);
    await t.store.updateUser(s.id, { emailVerified: true });
    const untouched = await patch(s.id, admin.token, { full_name: 'Still Verified' });
    assert.equal(untouched.json().email_verified, true);
    const res = await patch(s.id, admin.token, { email: `moved_${s.id.slice(-8)}@example.com` });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().email_verified, false);
    // The new address logs in; the old one no longer does.
    await loginPair(`moved_${s.id.slice(-8)}@example.com`, s.body.password);
    assert.equal((await loginRes(s.body.email, s.body.password)).statusCode, 401);
  });

  it('voids reset and verification links mailed to the old address when the email changes', async () => {
    const s = await signUp(t.app);
    const resetToken = randomBytes(32).toString('base64url');
    const now = new Date();
    for (const [token, purpose] of [[resetToken, 'password_reset'], [randomBytes(32).toString('base64url'), 'email_verify']] as const) {
      await t.store.oneTimeTokens.insert({
        hash: hashToken(token),
        purpose,
        userId: s.id,
        createdAt: now,
        expiresAt: new Date(now.getTime() + 1_800_000),
        data: JSON.stringify({ email: s.body.email }),
      });
    }
    const res = await patch(s.id, admin.token, { email: `newbox_${s.id.slice(-8)}@example.com` });
    assert.equal(res.statusCode, 200);
    assert.equal(await t.store.oneTimeTokens.countForUser(s.id, 'password_reset'), 0);
    assert.equal(await t.store.oneTimeTokens.countForUser(s.id, 'email_verify'), 0);
    const confirm = await t.app.inject({
      method: 'POST',
      url: '/auth/password-reset/confirm',
      payload: { token: resetToken, new_password: 'taken-over-123' },
    });
    assert.notEqual(confirm.statusCode, 204);
    assert.ok(confirm.statusCode >= 400, confirm.body);
  });

  it('answers an empty change with the user, unchanged', async () => {
    const s = await signUp(t.app);
    const res = await patch(s.id, s.token, {});
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().username, s.body.username);
    assert.equal((await me(s.token)).statusCode, 200, 'nothing was revoked');
  });

  it('kills a demoted user’s access and refresh tokens at once (a stolen token is worth nothing)', async () => {
    const teacher = await createAdmin();
    const stolen = teacher.pair;
    assert.equal((await t.app.inject({ url: '/users', headers: bearer(stolen.access_token) })).statusCode, 200);
    const res = await patch(teacher.id, admin.token, { role: 'student' });
    assert.equal(res.statusCode, 200, res.body);
    const afterDemotion = await me(stolen.access_token);
    assert.equal(afterDemotion.statusCode, 401);
    assert.equal(afterDemotion.json().code, 'INVALID_TOKEN');
    assert.equal((await refresh(stolen.refresh_token)).statusCode, 401);
    // The user logs in again with the new role.
    const fresh = await loginPair(teacher.body.email, teacher.body.password);
    assert.equal((await me(fresh.access_token)).json().role, 'student');
    assert.equal((await t.app.inject({ url: '/users', headers: bearer(fresh.access_token) })).statusCode, 403);
  });

  it('kills a disabled user’s tokens at once; they can neither log in nor refresh until enabled', async () => {
    const s = await signUp(t.app);
    const pair = await loginPair(s.body.email, s.body.password);
    const res = await patch(s.id, admin.token, { disabled: true });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().disabled, true);

    assert.equal((await me(pair.access_token)).statusCode, 401);
    assert.equal((await me(s.token)).statusCode, 401);
    const refused = await refresh(pair.refresh_token);
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.json().code, 'INVALID_REFRESH_TOKEN');
    const login = await loginRes(s.body.email, s.body.password);
    assert.equal(login.statusCode, 403);
    assert.equal(login.json().code, 'ACCOUNT_DISABLED');
    // Without the right password, a disabled account looks like any other: nothing to learn.
    const wrong = await loginRes(s.body.email, 'not-the-password');
    assert.equal(wrong.statusCode, 401);
    assert.equal(wrong.json().code, 'INVALID_CREDENTIALS');

    assert.equal((await patch(s.id, admin.token, { disabled: false })).json().disabled, false);
    const back = await loginPair(s.body.email, s.body.password);
    assert.equal((await me(back.access_token)).statusCode, 200);
  });

  it('refuses refresh and access tokens of a user disabled behind the service’s back (no revocation)', async () => {
    const s = await signUp(t.app);
    const pair = await loginPair(s.body.email, s.body.password);
    // As a database edit or an older instance would: the flag alone must be enough.
    await t.store.updateUser(s.id, { disabled: true });
    assert.equal((await refresh(pair.refresh_token)).statusCode, 401);
    assert.equal((await me(pair.access_token)).statusCode, 401);
    await t.store.updateUser(s.id, { disabled: false });
    assert.equal((await refresh(pair.refresh_token)).statusCode, 200, 'the session itself was never revoked');
  });

  it('leaves other users’ sessions alone when one user is demoted', async () => {
    const bystander = await signUp(t.app);
    const target = await createAdmin();
    assert.equal((await patch(target.id, admin.token, { role: 'teacher' })).statusCode, 200);
    assert.equal((await me(bystander.token)).statusCode, 200);
    assert.equal((await me(admin.token)).statusCode, 200);
  });
});

describe('PATCH /users/{user_id}: the last admin', () => {
  let t: TestApp;
  let admin: Session;
  before(async () => {
    t = await buildTestApp();
    admin = await signUpAdmin(t);
  });
  after(() => t.close());

  const patch = (id: string, token: string, payload: Record<string, unknown>) =>
    t.app.inject({ method: 'PATCH', url: `/users/${id}`, headers: bearer(token), payload });

  it('cannot be demoted or disabled (409 LAST_ADMIN), and stays an admin', async () => {
    for (const change of [{ role: 'teacher' }, { role: 'student' }, { disabled: true }]) {
      const res = await patch(admin.id, admin.token, change);
      assert.equal(res.statusCode, 409, JSON.stringify(change));
      assert.equal(res.json().code, 'LAST_ADMIN');
    }
    const stored = await t.store.findUserById(admin.id);
    assert.equal(stored?.role, 'admin');
    assert.equal(stored?.disabled, false);
    assert.equal((await t.app.inject({ url: '/users/me', headers: bearer(admin.token) })).statusCode, 200);
  });

  it('does not count disabled admins: the last enabled admin stays protected', async () => {
    const body = newUserBody({ role: 'admin' });
    const created = await t.app.inject({ method: 'POST', url: '/users', headers: bearer(admin.token), payload: body });
    const second = created.json().id as string;
    assert.equal((await patch(second, admin.token, { disabled: true })).statusCode, 200);
    const res = await patch(admin.id, admin.token, { role: 'student' });
    assert.equal(res.statusCode, 409);
    const del = await t.app.inject({ method: 'DELETE', url: `/users/${admin.id}`, headers: bearer(admin.token) });
    assert.equal(del.statusCode, 409, 'nor deleted');
    // Enabled again, the second admin makes the first one demotable.
    assert.equal((await patch(second, admin.token, { disabled: false })).statusCode, 200);
    const demoted = await patch(admin.id, admin.token, { role: 'teacher' });
    assert.equal(demoted.statusCode, 200, demoted.body);
    assert.equal(demoted.json().role, 'teacher');
  });

  it('leaves an admin when the last two demote each other at the same moment', async () => {
    const own = await buildTestApp();
    try {
      const first = await signUpAdmin(own);
      const second = await signUpAdmin(own);
      const demote = (id: string, token: string) =>
        own.app.inject({ method: 'PATCH', url: `/users/${id}`, headers: bearer(token), payload: { role: 'teacher' } });
      const answers = await Promise.all([demote(first.id, second.token), demote(second.id, first.token)]);
      // The loser is refused by the guard (409 LAST_ADMIN), or, had the winner finished before it was
      // even authenticated, by its own revoked token (401): either way, never two demotions.
      const statuses = answers.map((a) => a.statusCode).sort();
      assert.equal(statuses[0], 200, String(statuses));
      assert.ok([401, 409].includes(statuses[1] as number), String(statuses));
      assert.equal(await own.store.countUsers({ role: 'admin' }), 1, 'one admin left');
    } finally {
      await own.close();
    }
  });
});

describe('POST /users (admin)', () => {
  let t: TestApp;
  let admin: Session;
  before(async () => {
    t = await buildTestApp();
    admin = await signUpAdmin(t);
  });
  after(() => t.close());

  const create = (payload: Record<string, unknown>, token?: string) =>
    t.app.inject({ method: 'POST', url: '/users', headers: token ? bearer(token) : {}, payload });

  it('creates a user with any role (201 UserResponse) who can log in', async () => {
    for (const role of ['student', 'teacher', 'admin']) {
      const body = newUserBody({ role });
      const res = await create(body, admin.token);
      assert.equal(res.statusCode, 201, res.body);
      const user = res.json();
      assert.equal(user.role, role);
      assert.equal(user.email, body.email);
      assert.equal(user.disabled, false);
      assert.equal(user.password, undefined);
      const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: body.email, password: body.password } });
      assert.equal(login.statusCode, 200);
    }
  });

  it('creates a student when no role is given', async () => {
    const body = newUserBody();
    const res = await create(body, admin.token);
    assert.equal(res.statusCode, 201);
    assert.equal(res.json().role, 'student');
  });

  it('refuses a student (403) and an anonymous caller (401)', async () => {
    const student = await signUp(t.app);
    const res = await create(newUserBody({ role: 'teacher' }), student.token);
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().code, 'ADMIN_REQUIRED');
    assert.equal((await create(newUserBody())).statusCode, 401);
  });

  it('answers 400 USER_EXISTS for a taken email or username and 422 for a short password', async () => {
    const body = newUserBody();
    assert.equal((await create(body, admin.token)).statusCode, 201);
    const again = await create({ ...newUserBody(), email: body.email.toUpperCase() }, admin.token);
    assert.equal(again.statusCode, 400);
    assert.equal(again.json().code, 'USER_EXISTS');
    assert.equal((await create({ ...newUserBody(), username: body.username }, admin.token)).statusCode, 400);
    assert.equal((await create({ ...newUserBody(), password: 'short' }, admin.token)).statusCode, 422);
  });
});

describe('the bootstrap admin (ADMIN_EMAIL at start-up)', () => {
  it('is created once, with an audit event saying it came from the start-up', async () => {
    const t = await buildTestApp();
    try {
      const admin = { email: 'first-admin@example.com', password: 'first-admin-pass', username: 'first_admin' };
      assert.equal(await t.users.ensureAdmin(admin), true);
      assert.equal(await t.users.ensureAdmin(admin), false, 'a second start leaves it alone');
      const id = (await t.store.findUserByEmail(admin.email))?.id as string;
      const events = await t.store.audit.list({ limit: 5, userId: id, type: 'user.created' });
      assert.equal(events.length, 1);
      assert.deepEqual(JSON.parse(events[0]?.detail ?? '{}'), { role: 'admin', actor: 'ADMIN_EMAIL at start-up' });
    } finally {
      await t.close();
    }
  });
});
