import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, buildTestApp, newUserBody, register, signUp, signUpAdmin, type TestApp } from '../helpers/app.js';

type Session = Awaited<ReturnType<typeof signUp>>;

describe('GET /users/me', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('answers the current user', async () => {
    const s = await signUp(t.app);
    const res = await t.app.inject({ url: '/users/me', headers: bearer(s.token) });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().id, s.id);
    assert.equal(res.json().email, s.body.email);
    assert.equal(res.json().password, undefined);
  });

  it('answers 401 without a token', async () => {
    assert.equal((await t.app.inject({ url: '/users/me' })).statusCode, 401);
  });
});

describe('GET /users (admin, paged)', () => {
  let t: TestApp;
  let admin: Session;
  let student: Session;
  before(async () => {
    t = await buildTestApp();
    admin = await signUpAdmin(t);
    student = await signUp(t.app);
    for (let i = 0; i < 12; i++) {
      const role = i % 3 === 0 ? 'teacher' : 'student';
      const res = await register(t.app, newUserBody({ username: `page_${i}`, email: `Page.${i}@example.com`, role }), admin.token);
      assert.equal(res.statusCode, 201);
    }
  });
  after(() => t.close());

  const list = (query: string, token = admin.token) => t.app.inject({ url: `/users${query}`, headers: bearer(token) });

  it('refuses a student with 403 and the old detail', async () => {
    const res = await list('', student.token);
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().detail, 'Not authorized. Admin access required.');
  });

  it('answers 401 without a token', async () => {
    assert.equal((await t.app.inject({ url: '/users' })).statusCode, 401);
  });

  it('answers a JSON array of users, never their hashes', async () => {
    const res = await list('');
    assert.equal(res.statusCode, 200);
    const users = res.json();
    assert.ok(Array.isArray(users));
    assert.equal(users.length, 14);
    assert.ok(!res.body.includes('$argon2'));
    assert.equal(res.headers.link, undefined, 'no next page');
  });

  it('walks every user page by page through the Link header, each once, in id order (defect 6)', async () => {
    const seen: string[] = [];
    let url: string | null = '/users?limit=5';
    let pages = 0;
    while (url !== null) {
      const res: Awaited<ReturnType<typeof t.app.inject>> = await t.app.inject({ url, headers: bearer(admin.token) });
      assert.equal(res.statusCode, 200);
      const page = res.json() as { id: string }[];
      assert.ok(page.length <= 5);
      seen.push(...page.map((u) => u.id));
      pages += 1;
      const link = res.headers.link as string | undefined;
      url = link === undefined ? null : (/^<([^>]+)>; rel="next"$/.exec(link)?.[1] ?? null);
    }
    assert.equal(pages, 3);
    assert.equal(seen.length, 14);
    assert.equal(new Set(seen).size, 14);
    assert.deepEqual(seen, [...seen].sort());
  });

  it('filters by role, and keeps the filter in the next link', async () => {
    const res = await list('?role=teacher&limit=2');
    assert.equal(res.statusCode, 200);
    assert.ok(res.json().every((u: { role: string }) => u.role === 'teacher'));
    assert.match(String(res.headers.link), /role=teacher/);
    const all = await list('?role=teacher');
    assert.equal(all.json().length, 4);
  });

  it('filters by an email or username prefix, case-insensitively for email', async () => {
    const byEmail = await list('?q=PAGE.1');
    assert.deepEqual(byEmail.json().map((u: { username: string }) => u.username).sort(), ['page_1', 'page_10', 'page_11']);
    const byUsername = await list('?q=page_1');
    assert.equal(byUsername.json().length, 3);
    const wildcard = await list(`?q=${encodeURIComponent('%')}`);
    assert.equal(wildcard.json().length, 0, 'LIKE wildcards are literal');
  });

  it('bounds limit to 1..200 and checks the cursor (422)', async () => {
    assert.equal((await list('?limit=0')).statusCode, 422);
    assert.equal((await list('?limit=201')).statusCode, 422);
    assert.equal((await list('?limit=abc')).statusCode, 422);
    assert.equal((await list('?cursor=not-an-id')).statusCode, 422);
    assert.equal((await list('?role=root')).statusCode, 422);
    assert.equal((await list('?limit=200')).statusCode, 200);
  });
});

describe('GET /users/{user_id}', () => {
  let t: TestApp;
  let admin: Session;
  let a: Session;
  let b: Session;
  before(async () => {
    t = await buildTestApp();
    admin = await signUpAdmin(t);
    a = await signUp(t.app);
    b = await signUp(t.app);
  });
  after(() => t.close());

  const get = (id: string, token: string) => t.app.inject({ url: `/users/${id}`, headers: bearer(token) });

  it('shows users themselves', async () => {
    const res = await get(a.id, a.token);
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().id, a.id);
  });

  it('accepts the id in upper case, as ObjectId did', async () => {
    assert.equal((await get(a.id.toUpperCase(), a.token)).json().id, a.id);
  });

  it('shows anyone to an admin', async () => {
    assert.equal((await get(b.id, admin.token)).json().id, b.id);
  });

  it("refuses another user's record with 403", async () => {
    assert.equal((await get(b.id, a.token)).statusCode, 403);
  });

  it('answers 404 to an admin for an unknown id, with the old detail', async () => {
    const res = await get('ffffffffffffffffffffffff', admin.token);
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().detail, 'User not found');
  });

  it('answers 422 for ids that are not ids', async () => {
    for (const id of ['123', 'zzzzzzzzzzzzzzzzzzzzzzzz', `${a.id}0`, '%7B%22%24ne%22%3A1%7D']) {
      assert.equal((await get(id, admin.token)).statusCode, 422, id);
    }
  });
});

describe('DELETE /users/{user_id}', () => {
  let t: TestApp;
  let admin: Session;
  before(async () => {
    t = await buildTestApp();
    admin = await signUpAdmin(t);
  });
  after(() => t.close());

  const del = (id: string, token: string) => t.app.inject({ method: 'DELETE', url: `/users/${id}`, headers: bearer(token) });

  it('lets users delete themselves, with the old answer', async () => {
    const s = await signUp(t.app);
    const res = await del(s.id, s.token);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { message: 'User deleted successfully', user_id: s.id });
    assert.equal(await t.store.findUserById(s.id), null);
  });

  it('lets an admin delete anyone', async () => {
    const s = await signUp(t.app);
    assert.equal((await del(s.id, admin.token)).statusCode, 200);
    assert.equal((await t.app.inject({ url: `/users/${s.id}`, headers: bearer(admin.token) })).statusCode, 404);
  });

  it('refuses to delete someone else with 403, and deletes nothing', async () => {
    const a = await signUp(t.app);
    const b = await signUp(t.app);
    assert.equal((await del(b.id, a.token)).statusCode, 403);
    assert.notEqual(await t.store.findUserById(b.id), null);
  });

  it('answers 404 for an unknown id', async () => {
    assert.equal((await del('ffffffffffffffffffffffff', admin.token)).statusCode, 404);
  });

  it('refuses to delete the last admin (409), and allows it once there is another', async () => {
    const res = await del(admin.id, admin.token);
    assert.equal(res.statusCode, 409);
    assert.equal(res.json().code, 'LAST_ADMIN');
    const second = await register(t.app, newUserBody({ role: 'admin' }), admin.token);
    assert.equal(second.statusCode, 201);
    assert.equal((await del(admin.id, admin.token)).statusCode, 200);
  });
});
