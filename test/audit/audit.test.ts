import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, buildTestApp, signUp, signUpAdmin, type TestApp } from '../helpers/app.js';

type Session = Awaited<ReturnType<typeof signUp>>;

interface EventBody {
  id: string;
  at: string;
  type: string;
  user_id: string | null;
  actor_id: string | null;
  ip: string | null;
  user_agent: string | null;
  detail: Record<string, unknown> | null;
}

describe('GET /admin/audit', () => {
  let t: TestApp;
  let admin: Session;
  before(async () => {
    t = await buildTestApp();
    admin = await signUpAdmin(t);
  });
  after(() => t.close());

  const audit = (query = '', token = admin.token) => t.app.inject({ url: `/admin/audit${query}`, headers: bearer(token) });
  async function events(query: string): Promise<EventBody[]> {
    const res = await audit(query);
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  }
  const loginAs = (email: string, password: string) =>
    t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password },
      headers: { 'user-agent': 'audit-test/1.0' },
    });

  it('records a login with time, user, IP and user agent', async () => {
    const s = await signUp(t.app);
    const before = Date.now();
    assert.equal((await loginAs(s.body.email, s.body.password)).statusCode, 200);
    const [event] = await events(`?user_id=${s.id}&type=login.succeeded&limit=1`);
    assert.ok(event);
    assert.equal(event.type, 'login.succeeded');
    assert.equal(event.user_id, s.id);
    assert.equal(event.actor_id, null);
    assert.equal(event.ip, '127.0.0.1');
    assert.equal(event.user_agent, 'audit-test/1.0');
    assert.equal(event.detail?.method, 'password');
    assert.ok(Date.parse(event.at) >= before - 1000 && Date.parse(event.at) <= Date.now() + 1000);
    assert.match(event.id, /^[0-9a-f]{24}$/);
  });

  it('records failed logins, for known and unknown accounts, never with the password', async () => {
    const s = await signUp(t.app);
    assert.equal((await loginAs(s.body.email, 'wrong-password-1')).statusCode, 401);
    assert.equal((await loginAs('nobody-here@example.com', 'wrong-password-2')).statusCode, 401);
    const failed = await events('?type=login.failed&limit=200');
    const mine = failed.find((e) => e.user_id === s.id);
    assert.equal(mine?.detail?.reason, 'wrong_password');
    assert.equal(mine?.user_agent, 'audit-test/1.0');
    assert.ok(failed.some((e) => e.user_id === null && e.detail?.reason === 'unknown_account'));
    const all = (await audit('?limit=200')).body;
    assert.ok(!all.includes('wrong-password-1') && !all.includes('wrong-password-2'), 'no password in the log');
  });

  it('records admin changes with the admin as actor', async () => {
    const s = await signUp(t.app);
    const patch = (payload: Record<string, unknown>) =>
      t.app.inject({ method: 'PATCH', url: `/users/${s.id}`, headers: bearer(admin.token), payload });
    assert.equal((await patch({ role: 'teacher', full_name: 'New Name' })).statusCode, 200);
    assert.equal((await patch({ disabled: true })).statusCode, 200);
    assert.equal((await patch({ disabled: false })).statusCode, 200);
    const list = await events(`?user_id=${s.id}`);
    const byType = new Map(list.map((e) => [e.type, e]));
    assert.deepEqual(byType.get('user.role_changed')?.detail, { from: 'student', to: 'teacher' });
    assert.deepEqual(byType.get('user.updated')?.detail, { fields: ['full_name'] });
    assert.ok(byType.has('user.disabled'));
    assert.ok(byType.has('user.enabled'));
    for (const type of ['user.role_changed', 'user.updated', 'user.disabled', 'user.enabled']) {
      assert.equal(byType.get(type)?.actor_id, admin.id, type);
      assert.equal(byType.get(type)?.user_id, s.id, type);
    }
    // Newest first: enabling came last.
    assert.equal(list[0]?.type, 'user.enabled');
  });

  it('records users created by an admin and a self-service rename', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/users',
      headers: bearer(admin.token),
      payload: { username: 'made_by_admin', email: 'made_by_admin@example.com', password: 'password-123', role: 'teacher' },
    });
    const id = created.json().id as string;
    const [event] = await events(`?user_id=${id}&type=user.created`);
    assert.equal(event?.actor_id, admin.id);
    assert.deepEqual(event?.detail, { role: 'teacher' });

    const s = await signUp(t.app);
    await t.app.inject({ method: 'PATCH', url: `/users/${s.id}`, headers: bearer(s.token), payload: { username: `self_${s.id.slice(-8)}` } });
    const [rename] = await events(`?user_id=${s.id}&type=user.updated`);
    assert.equal(rename?.actor_id, s.id);
    assert.deepEqual(rename?.detail, { fields: ['username'] });
  });

  it('filters by user and by type, together or apart', async () => {
    const a = await signUp(t.app);
    const b = await signUp(t.app);
    await loginAs(a.body.email, 'wrong-password');
    await loginAs(b.body.email, 'wrong-password');
    const ofA = await events(`?user_id=${a.id}`);
    assert.ok(ofA.length >= 3, 'registered, logged in, failed');
    assert.ok(ofA.every((e) => e.user_id === a.id));
    const failed = await events('?type=login.failed');
    assert.ok(failed.every((e) => e.type === 'login.failed'));
    assert.ok(failed.some((e) => e.user_id === a.id) && failed.some((e) => e.user_id === b.id));
    const both = await events(`?type=login.failed&user_id=${b.id.toUpperCase()}`);
    assert.equal(both.length, 1);
    assert.equal(both[0]?.user_id, b.id);
    assert.deepEqual(await events('?type=no.such_type'), []);
  });

  it('pages newest first through a Link header, every event once, filters kept', async () => {
    const s = await signUp(t.app);
    for (let i = 0; i < 6; i++) await loginAs(s.body.email, `wrong-password-${i}`);
    const everything = await events(`?user_id=${s.id}&limit=200`);
    assert.ok(everything.length >= 8);
    const seen: EventBody[] = [];
    let url: string | null = `/admin/audit?user_id=${s.id}&limit=3`;
    while (url !== null) {
      const res: Awaited<ReturnType<typeof audit>> = await t.app.inject({ url, headers: bearer(admin.token) });
      assert.equal(res.statusCode, 200);
      const page = res.json() as EventBody[];
      assert.ok(page.length <= 3 && page.length > 0);
      seen.push(...page);
      const link = res.headers.link as string | undefined;
      if (link !== undefined) assert.match(link, /user_id=/, 'the filter carries over');
      url = link === undefined ? null : (/^<([^>]+)>; rel="next"$/.exec(link)?.[1] ?? null);
    }
    assert.deepEqual(
      seen.map((e) => e.id),
      everything.map((e) => e.id),
    );
    const ids = seen.map((e) => e.id);
    assert.deepEqual([...ids].sort().reverse(), ids, 'newest (largest id) first');
    assert.equal(new Set(ids).size, ids.length);
    for (let i = 1; i < seen.length; i++) {
      assert.ok(Date.parse(seen[i - 1]?.at ?? '') >= Date.parse(seen[i]?.at ?? ''));
    }
  });

  it('defaults to 50 events and refuses a limit over 200 or a malformed cursor (422)', async () => {
    const res = await audit();
    assert.equal(res.statusCode, 200);
    assert.ok((res.json() as unknown[]).length <= 50);
    assert.equal((await audit('?limit=201')).statusCode, 422);
    assert.equal((await audit('?limit=0')).statusCode, 422);
    assert.equal((await audit('?before=not-an-id')).statusCode, 422);
    assert.equal((await audit('?user_id=123')).statusCode, 422);
    assert.equal((await audit('?type=DROP%20TABLE')).statusCode, 422);
  });

  it('is for admins only: 403 for a student, 401 without a token', async () => {
    const s = await signUp(t.app);
    const res = await audit('', s.token);
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().code, 'ADMIN_REQUIRED');
    assert.equal((await t.app.inject({ url: '/admin/audit' })).statusCode, 401);
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await t.app.inject({ url: '/openapi.json' })).json();
    assert.ok(doc.paths['/admin/audit']?.get);
  });
});
