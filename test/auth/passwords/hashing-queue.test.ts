import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HASH_QUEUE_LIMIT } from '../../../src/auth/passwords/passwords.js';
import { buildTestApp, newUserBody, register, type TestApp } from '../../helpers/app.js';

describe('POST /auth/login when the password hashing queue is full', () => {
  let t: TestApp;
  // Several accounts, each signing in from many addresses: no account lock gets in the way (it
  // counts attempts per account and address, and per account only past 50).
  const users = Array.from({ length: 8 }, () => newUserBody());
  const user = users[0] as ReturnType<typeof newUserBody>;
  const login = (password = user.password, who = user, from = '10.9.250.1') =>
    t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: who.email, password }, remoteAddress: from });

  before(async () => {
    // The rate limits out of the way: this is about the service's capacity, not one client's rate.
    t = await buildTestApp({ RATE_LIMIT_LOGIN_PER_IP: '10000', RATE_LIMIT_LOGIN_PER_ACCOUNT: '10000' });
    for (const body of users) assert.equal((await register(t.app, body)).statusCode, 201);
  });
  after(() => t.close());

  it('answers 429 BUSY with Retry-After beyond the queue, never a 401 or a 5xx, and counts no failed login', async () => {
    // Far more at once than the queue holds: they arrive faster than two cores hash.
    const requests = Array.from({ length: 3 * HASH_QUEUE_LIMIT }, (_, i) => ({
      who: users[i % users.length] as ReturnType<typeof newUserBody>,
      from: `10.9.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    }));
    const burst = await Promise.all(requests.map(({ who, from }) => login(who.password, who, from)));
    const busy = burst.filter((res) => res.statusCode === 429);
    assert.ok(busy.length > 0, 'some logins found the queue full');
    for (const res of busy) {
      assert.deepEqual(Object.keys(res.json()).sort(), ['code', 'detail']);
      assert.equal(res.json().code, 'BUSY');
      assert.equal(res.headers['retry-after'], '1');
    }
    const statuses = new Set(burst.map((res) => res.statusCode));
    assert.deepEqual([...statuses].sort(), [200, 429], 'admitted logins succeed; none is taken for a wrong password');
    // A refusal is not a failed attempt: it was taken back. From the address and for the account of
    // one refusal, five wrong passwords are all checked (had the refusal counted, the fifth would
    // meet the lock: five attempts per account and address).
    const refused = requests[burst.findIndex((res) => res.statusCode === 429)] as (typeof requests)[number];
    for (let i = 0; i < 5; i++) {
      assert.equal((await login('not-the-password', refused.who, refused.from)).statusCode, 401, `attempt ${i + 1}`);
    }
    assert.equal((await login(refused.who.password, refused.who, refused.from)).statusCode, 429, 'and then the lock holds');
  });

  it('still tells a wrong password from a full queue: 401 once there is room', async () => {
    const res = await login('not-the-password');
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().code, 'INVALID_CREDENTIALS');
  });
});
