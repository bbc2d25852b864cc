import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HASH_QUEUE_LIMIT } from '../../src/auth/passwords.js';
import { buildTestApp, newUserBody, register, type TestApp } from '../helpers/app.js';

describe('POST /auth/login when the password hashing queue is full', () => {
  let t: TestApp;
  const user = newUserBody();
  const login = (password = user.password) =>
    t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: user.email, password } });

  before(async () => {
    // The rate limits out of the way: this is about the service's capacity, not one client's rate.
    t = await buildTestApp({ RATE_LIMIT_LOGIN_PER_IP: '10000', RATE_LIMIT_LOGIN_PER_ACCOUNT: '10000' });
    assert.equal((await register(t.app, user)).statusCode, 201);
  });
  after(() => t.close());

  it('answers 429 BUSY with Retry-After beyond the queue, never a 401 or a 5xx, and counts no failed login', async () => {
    // Far more at once than the queue holds: they arrive faster than two cores hash.
    const burst = await Promise.all(Array.from({ length: 3 * HASH_QUEUE_LIMIT }, () => login()));
    const busy = burst.filter((res) => res.statusCode === 429);
    assert.ok(busy.length > 0, 'some logins found the queue full');
    for (const res of busy) {
      assert.deepEqual(Object.keys(res.json()).sort(), ['code', 'detail']);
      assert.equal(res.json().code, 'BUSY');
      assert.equal(res.headers['retry-after'], '1');
    }
    const statuses = new Set(burst.map((res) => res.statusCode));
    assert.deepEqual([...statuses].sort(), [200, 429], 'admitted logins succeed; none is taken for a wrong password');
    // A refusal is not a failed attempt: the account is not locked, and the next login works.
    const next = await login();
    assert.equal(next.statusCode, 200, next.body);
  });

  it('still tells a wrong password from a full queue: 401 once there is room', async () => {
    const res = await login('not-the-password');
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().code, 'INVALID_CREDENTIALS');
  });
});
