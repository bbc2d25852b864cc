import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { bearer, buildTestApp, login, newUserBody, register, signUp, signUpAdmin, type TestApp } from '../../helpers/app.js';

describe('POST /auth/register', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('creates a student and answers 201 with the UserResponse, never the hash', async () => {
    const body = newUserBody({ email: 'Mixed.Case@Example.com' });
    const res = await register(t.app, body);
    assert.equal(res.statusCode, 201);
    const user = res.json();
    assert.match(user.id, /^[0-9a-f]{24}$/);
    assert.deepEqual(Object.keys(user).sort(), [
      'created_at',
      'disabled',
      'email',
      'email_verified',
      'full_name',
      'id',
      'qr_code',
      'role',
      'username',
    ]);
    assert.equal(user.username, body.username);
    assert.equal(user.email, 'Mixed.Case@Example.com', 'email is stored as given');
    assert.equal(user.full_name, body.full_name);
    assert.equal(user.role, 'student');
    assert.equal(user.qr_code, null);
    assert.ok(!Number.isNaN(Date.parse(user.created_at)));
    assert.ok(!res.body.includes('argon2') && !res.body.includes(body.password));
  });

  it('stores argon2id hashes, not the password', async () => {
    const body = newUserBody();
    const res = await register(t.app, body);
    const stored = await t.store.findUserById(res.json().id);
    assert.ok(stored?.passwordHash.startsWith('$argon2id$v=19$m=19456,t=2,p=1$'));
  });

  it('refuses a second account with the same email in any case, or the same username (400)', async () => {
    const body = newUserBody();
    assert.equal((await register(t.app, body)).statusCode, 201);
    const sameEmail = await register(t.app, newUserBody({ email: body.email.toUpperCase() }));
    assert.equal(sameEmail.statusCode, 400);
    assert.deepEqual(sameEmail.json(), {
      detail: 'User with this email or username already exists',
      code: 'USER_EXISTS',
    });
    const sameUsername = await register(t.app, newUserBody({ username: body.username }));
    assert.equal(sameUsername.statusCode, 400);
    assert.equal(sameUsername.json().code, 'USER_EXISTS');
  });

  describe('usernames that could pass for another (NFKC, case, scripts, invisible characters)', () => {
    it('refuses look-alikes of a taken name: another case, a Cyrillic letter, a zero-width or direction character, a space', async () => {
      const base = `admin${randomBytes(3).toString('hex')}`;
      assert.equal((await register(t.app, newUserBody({ username: base }))).statusCode, 201);
      const taken = await register(t.app, newUserBody({ username: base.replace('admin', 'Admin') }));
      assert.equal(taken.statusCode, 400, 'unique regardless of case');
      assert.equal(taken.json().code, 'USER_EXISTS');
      const fullWidth = base.replace('admin', 'ａｄｍｉｎ');
      assert.equal((await register(t.app, newUserBody({ username: fullWidth }))).statusCode, 400, 'NFKC makes it the same name');
      for (const [why, username] of [
        ['a Cyrillic а among Latin letters', base.replace('a', '\u0430')],
        ['a zero-width space', `${base}\u200b`],
        ['a right-to-left override', `\u202e${base}`],
        ['a trailing space', `${base} `],
        ['a space inside', base.replace('min', ' min')],
        ['an @ (a login with @ is read as an email)', `${base}@x`],
      ] as const) {
        const res = await register(t.app, newUserBody({ username }));
        assert.equal(res.statusCode, 422, `${why}: ${res.body}`);
        assert.deepEqual(res.json().detail[0].loc, ['body', 'username'], why);
      }
    });

    it('accepts names in one script, or the mixes Japanese, Chinese and Korean use, stored in NFKC form', async () => {
      const tag = String(randomBytes(3).readUIntBE(0, 3)); // digits belong to every script
      for (const username of [`Zoë_${tag}`, `Дмитрий${tag}`, `山田太郎ユーザー${tag}`, `kim.민준${tag}`, `Ｗｉｄｅ${tag}`]) {
        const res = await register(t.app, newUserBody({ username }));
        assert.equal(res.statusCode, 201, `${username}: ${res.body}`);
        assert.equal(res.json().username, username.normalize('NFKC'));
      }
    });

    it('signs in by username in any case', async () => {
      const body = newUserBody({ username: `Mixed.Case_${randomBytes(2).toString('hex')}` });
      assert.equal((await register(t.app, body)).statusCode, 201);
      const form = await t.app.inject({
        method: 'POST',
        url: '/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ username: body.username.toLowerCase(), password: body.password }).toString(),
      });
      assert.equal(form.statusCode, 200, form.body);
    });
  });

  it('gives exactly one 201 for 20 concurrent registrations of one email', async () => {
    const email = newUserBody().email;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        register(t.app, newUserBody({ email: i % 2 === 0 ? email : email.toUpperCase() })),
      ),
    );
    const codes = answers.map((r) => r.statusCode);
    assert.equal(codes.filter((c) => c === 201).length, 1);
    assert.equal(codes.filter((c) => c === 400).length, 19);
  });

  describe('roles (defect 1: anyone could register as admin)', () => {
    it('refuses "role": "admin" from the public with 403 and a clear detail', async () => {
      const res = await register(t.app, newUserBody({ role: 'admin' }));
      assert.equal(res.statusCode, 403);
      assert.equal(res.json().code, 'ROLE_NOT_ALLOWED');
      assert.match(res.json().detail, /admin/);
    });

    it('refuses "role": "teacher" from a student', async () => {
      const student = await signUp(t.app);
      const res = await register(t.app, newUserBody({ role: 'teacher' }), student.token);
      assert.equal(res.statusCode, 403);
    });

    it('accepts an explicit "role": "student"', async () => {
      const res = await register(t.app, newUserBody({ role: 'student' }));
      assert.equal(res.statusCode, 201);
      assert.equal(res.json().role, 'student');
    });

    it("lets an admin's token create teachers and admins", async () => {
      const admin = await signUpAdmin(t);
      for (const role of ['teacher', 'admin']) {
        const res = await register(t.app, newUserBody({ role }), admin.token);
        assert.equal(res.statusCode, 201, res.body);
        assert.equal(res.json().role, role);
      }
    });

    it('answers 401 to an elevated role asked with a bad token', async () => {
      const res = await register(t.app, newUserBody({ role: 'admin' }), 'not.a.token');
      assert.equal(res.statusCode, 401);
    });

    it('refuses an unknown role with 422', async () => {
      const res = await register(t.app, newUserBody({ role: 'superuser' }));
      assert.equal(res.statusCode, 422);
      assert.deepEqual(res.json().detail[0].loc, ['body', 'role']);
    });
  });

  describe('passwords', () => {
    it('refuses fewer than 8 characters with 422', async () => {
      const res = await register(t.app, newUserBody({ password: 'short7!' }));
      assert.equal(res.statusCode, 422);
      assert.deepEqual(res.json().detail[0].loc, ['body', 'password']);
    });

    it('accepts 1024 bytes of UTF-8 and refuses 1025 (422, not 500)', async () => {
      const ok = await register(t.app, newUserBody({ password: 'é'.repeat(512) }));
      assert.equal(ok.statusCode, 201);
      const tooLong = await register(t.app, newUserBody({ password: `${'é'.repeat(512)}x` }));
      assert.equal(tooLong.statusCode, 422);
      assert.equal(tooLong.json().detail[0].type, 'string_too_long');
    });

    it('honours PASSWORD_MIN_LENGTH', async () => {
      const strict = await buildTestApp({ PASSWORD_MIN_LENGTH: '12' });
      try {
        assert.equal((await register(strict.app, newUserBody({ password: 'elevenchars' }))).statusCode, 422);
        assert.equal((await register(strict.app, newUserBody({ password: 'twelve chars' }))).statusCode, 201);
      } finally {
        await strict.close();
      }
    });

    it('does not truncate: two passwords sharing their first 72 bytes differ (defect 4)', async () => {
      const common = 'p'.repeat(72);
      const body = newUserBody({ password: `${common}-first` });
      assert.equal((await register(t.app, body)).statusCode, 201);
      const wrong = await t.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: body.email, password: `${common}-other` },
      });
      assert.equal(wrong.statusCode, 401);
      assert.ok(await login(t.app, body.email, body.password));
    });
  });

  describe('bad input never reaches a 5xx', () => {
    const cases: [string, Record<string, unknown>, string[]][] = [
      ['a NoSQL operator where a string belongs', { username: { $gt: '' } }, ['body', 'username']],
      ['an operator in the email', { email: { $ne: null } }, ['body', 'email']],
      ['a NUL byte in the username', { username: 'bad\u0000name' }, ['body', 'username']],
      ['a control character in the full name', { full_name: 'Evil\u001b[31mName' }, ['body', 'full_name']],
      ['an invalid email', { email: 'not-an-email' }, ['body', 'email']],
      ['a too short username', { username: 'ab' }, ['body', 'username']],
      ['a too long username', { username: 'u'.repeat(51) }, ['body', 'username']],
      ['a number for the password', { password: 12345678 }, ['body', 'password']],
    ];
    for (const [name, override, loc] of cases) {
      it(`answers 422 to ${name}`, async () => {
        const res = await register(t.app, newUserBody(override));
        assert.equal(res.statusCode, 422, res.body);
        const issue = res.json().detail[0];
        assert.deepEqual(issue.loc, loc);
        assert.equal(typeof issue.msg, 'string');
        assert.equal(typeof issue.type, 'string');
      });
    }

    it('answers 422 with loc for a missing field', async () => {
      const { password: _omit, ...body } = newUserBody();
      const res = await register(t.app, body);
      assert.equal(res.statusCode, 422);
      assert.deepEqual(res.json().detail[0], { loc: ['body', 'password'], msg: 'Field required', type: 'missing' });
    });

    it('drops unknown properties and never stores them', async () => {
      const body = newUserBody({ is_admin: true, password_hash: 'x', qr_code: 'forged' });
      const res = await register(t.app, body);
      assert.equal(res.statusCode, 201);
      assert.equal(res.json().qr_code, null);
      const stored = await t.store.findUserById(res.json().id);
      assert.equal(stored?.qrCode, null);
      assert.ok(stored?.passwordHash.startsWith('$argon2id$'));
    });

    it('answers malformed JSON with 400', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/register',
        headers: { 'content-type': 'application/json' },
        payload: '{"username": "x",',
      });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'INVALID_JSON');
    });

    it('answers a __proto__ key with 400', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/register',
        headers: { 'content-type': 'application/json' },
        payload: '{"__proto__": {"role": "admin"}, "username": "proto", "email": "p@example.com", "password": "whatever1"}',
      });
      assert.equal(res.statusCode, 400);
    });

    it('answers a wrong content type with 415', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/register',
        headers: { 'content-type': 'text/plain' },
        payload: 'username=x',
      });
      assert.equal(res.statusCode, 415);
      assert.equal(res.json().code, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('answers a body over 1 MiB with 413', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/register',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(newUserBody({ full_name: 'x'.repeat(1024 * 1024) })),
      });
      assert.equal(res.statusCode, 413);
      assert.equal(res.json().code, 'PAYLOAD_TOO_LARGE');
    });

    it('answers a JSON array or string body with 422', async () => {
      for (const payload of ['[]', '"text"', 'null']) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/auth/register',
          headers: { 'content-type': 'application/json' },
          payload,
        });
        assert.ok([400, 422].includes(res.statusCode), `${payload}: ${res.statusCode} ${res.body}`);
      }
    });
  });

  it('leaves no trace of a refused registration', async () => {
    const body = newUserBody({ role: 'admin' });
    await register(t.app, body);
    assert.equal(await t.store.findUserByEmail(body.email), null);
    assert.equal(await t.store.findUserByUsername(body.username), null);
    const after = await t.app.inject({ url: '/users/me', headers: bearer('x') });
    assert.equal(after.statusCode, 401);
  });
});
