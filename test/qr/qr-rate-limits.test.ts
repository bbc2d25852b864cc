import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, buildTestApp, signUp, type TestApp } from '../helpers/app.js';

describe('rate limits on the QR endpoints', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({
      RATE_LIMIT_QR_VERIFY_PER_IP: '3',
      RATE_LIMIT_QR_SCAN_PER_USER: '2',
      RATE_LIMIT_QR_LOGIN_PER_IP: '2',
    });
  });
  after(() => t.close());

  const statuses = async (n: number, send: () => Promise<{ statusCode: number }>) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await send()).statusCode);
    return out;
  };

  it('limits the public /qr/verify per IP', async () => {
    const codes = await statuses(5, () => t.app.inject({ method: 'POST', url: '/qr/verify', payload: { data: 'USER:x' } }));
    assert.deepEqual(codes, [200, 200, 200, 429, 429]);
  });

  it('limits /qr/generate per user, not per address', async () => {
    const a = await signUp(t.app);
    const b = await signUp(t.app);
    const generate = (token: string) => t.app.inject({ method: 'POST', url: '/qr/generate', headers: bearer(token) });
    assert.deepEqual(await statuses(3, () => generate(a.token)), [200, 200, 429]);
    const limited = await generate(a.token);
    assert.equal(limited.json().code, 'RATE_LIMITED');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.equal((await generate(b.token)).statusCode, 200);
  });

  it('limits starting sign-ins by QR per IP', async () => {
    const codes = await statuses(3, () => t.app.inject({ method: 'POST', url: '/auth/qr-login/start' }));
    assert.deepEqual(codes, [200, 200, 429]);
  });
});
