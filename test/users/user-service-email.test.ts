import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ValidationFailed } from '../../src/errors.js';
import { buildTestApp, newUserBody, type TestApp } from '../helpers/app.js';

/** Passes the API's schema (ajv-formats "email", 254 characters at most) or not. */
const SAMPLES: [email: string, valid: boolean][] = [
  ['plain@example.com', true],
  ['Mixed.Case+tag@sub.example.org', true],
  ['not-an-email', false],
  ['two@@example.com', false],
  ['no-domain@', false],
  ['admin@localhost', false],
  ['spaces in@example.com', false],
  [`${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(58)}.com`, false], // 255 characters
];

describe('the user service refuses an invalid email, as the API does (CLI, ADMIN_EMAIL)', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('agrees with POST /auth/register on every sample', async () => {
    for (const [i, [email, valid]] of SAMPLES.entries()) {
      const body = newUserBody({ email });
      const api = await t.app.inject({ method: 'POST', url: '/auth/register', payload: body });
      assert.equal(api.statusCode, valid ? 201 : 422, `API: ${email}`);

      const service = t.users
        .createWithRole({ username: `svc_${i}`, email: email.replace('@', `+svc${i}@`), password: body.password, fullName: null, role: 'admin' })
        .then(
          () => 'created',
          (error: unknown) => error,
        );
      const outcome = await service;
      if (valid) {
        assert.equal(outcome, 'created', `service: ${email}`);
      } else {
        assert.ok(outcome instanceof ValidationFailed, `service: ${email}`);
        assert.deepEqual(outcome.issues, [{ loc: ['body', 'email'], msg: 'value is not a valid email address', type: 'value_error' }]);
      }
    }
  });

  it('changes no email to an invalid one (an admin through a web page, as PATCH /users/{id} would)', async () => {
    const admin = newUserBody();
    await t.users.ensureAdmin({ email: admin.email, password: admin.password, username: admin.username });
    const actor = await t.store.findUserByEmail(admin.email);
    assert.ok(actor);
    const target = newUserBody();
    const user = await t.users.register({ ...target, fullName: null }, null);
    for (const [email, valid] of SAMPLES) {
      if (valid) continue;
      await assert.rejects(t.users.update(actor, user.id, { email }), (error: unknown) => {
        assert.ok(error instanceof ValidationFailed, email);
        assert.deepEqual(error.issues, [{ loc: ['body', 'email'], msg: 'value is not a valid email address', type: 'value_error' }]);
        return true;
      });
    }
    assert.equal((await t.store.findUserById(user.id))?.email, target.email);
  });

  it('creates nobody for an invalid email', async () => {
    await assert.rejects(
      t.users.ensureAdmin({ email: 'nobody-at-all', password: 'long-enough-password', username: 'nobody' }),
      ValidationFailed,
    );
    assert.equal(await t.store.findUserByUsername('nobody'), null);
  });
});
