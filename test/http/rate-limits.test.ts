import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { bearer, buildTestApp, newUserBody, register, signUp, type TestApp } from '../helpers/app.js';
import { freePort } from '../helpers/server-process.js';

type Response = Awaited<ReturnType<TestApp['app']['inject']>>;

/** A made-up client address, so that runs sharing one Redis never share a per-IP counter. */
const randomIp = () => `10.${[...randomBytes(3)].join('.')}`;

function assertLimited(res: Response, windowSeconds: number) {
  assert.equal(res.statusCode, 429, res.body);
  assert.equal(res.json().code, 'RATE_LIMITED');
  assert.equal(typeof res.json().detail, 'string');
  const retryAfter = Number(res.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= windowSeconds, `Retry-After ${retryAfter}`);
}

describe('rate limits: per account (strict)', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ RATE_LIMIT_LOGIN_PER_ACCOUNT: '3', RATE_LIMIT_RESET_PER_EMAIL: '2' });
  });
  after(() => t.close());

  const login = (email: string, password: string, remoteAddress = randomIp()) =>
    t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password }, remoteAddress });
  /** Registered, not logged in: its login budget is whole. */
  async function account() {
    const body = newUserBody();
    assert.equal((await register(t.app, body)).statusCode, 201);
    return { body };
  }

  it('answers 429 with Retry-After once one account had its logins, from whatever address', async () => {
    const s = await account();
    for (let i = 0; i < 3; i++) assert.equal((await login(s.body.email, 'wrong-password')).statusCode, 401);
    // Even the right password, from a fresh address: the account's budget is spent.
    assertLimited(await login(s.body.email, s.body.password), 60);
  });

  it('counts case variants of the email and the OAuth2 form (username field) together', async () => {
    const s = await account();
    assert.equal((await login(s.body.email.toUpperCase(), 'wrong-password')).statusCode, 401);
    const form = await t.app.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ username: s.body.email, password: 'wrong-password' }).toString(),
    });
    assert.equal(form.statusCode, 401);
    assert.equal((await login(s.body.email, 'wrong-password')).statusCode, 401);
    assertLimited(await login(s.body.email.toLowerCase(), s.body.password), 60);
  });

  it("counts the account, not the string: its email and its username share one counter", async () => {
    const s = await account();
    const form = (username: string) =>
      t.app.inject({
        method: 'POST',
        url: '/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ username, password: 'wrong-password' }).toString(),
        remoteAddress: randomIp(),
      });
    assert.equal((await form(s.body.username)).statusCode, 401);
    assert.equal((await form(s.body.username.toUpperCase())).statusCode, 401);
    assert.equal((await login(s.body.email, 'wrong-password')).statusCode, 401);
    assertLimited(await login(s.body.email, s.body.password), 60);
  });

  it('limits an unknown account the same way (a 429 tells nothing about existence)', async () => {
    const email = `ghost_${randomBytes(4).toString('hex')}@example.com`;
    for (let i = 0; i < 3; i++) assert.equal((await login(email, 'wrong-password')).statusCode, 401);
    assertLimited(await login(email, 'wrong-password'), 60);
  });

  it('leaves other accounts alone', async () => {
    const victim = await account();
    for (let i = 0; i < 4; i++) await login(victim.body.email, 'wrong-password', '10.0.0.1');
    const other = await account();
    assert.equal((await login(other.body.email, other.body.password, '10.0.0.1')).statusCode, 200);
  });

  it('limits password-reset requests per email address (per hour), known or not', async () => {
    const s = await account();
    const reset = (email: string) =>
      t.app.inject({ method: 'POST', url: '/auth/password-reset/request', payload: { email }, remoteAddress: randomIp() });
    for (const email of [s.body.email, `nobody_${randomBytes(4).toString('hex')}@example.com`]) {
      assert.equal((await reset(email)).statusCode, 202);
      assert.equal((await reset(email.toUpperCase())).statusCode, 202);
      const limited = await reset(email);
      assertLimited(limited, 3600);
      assert.ok(Number(limited.headers['retry-after']) > 60, 'an hour-long window');
    }
  });
});

describe('rate limits: per IP', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({
      RATE_LIMIT_LOGIN_PER_IP: '3',
      RATE_LIMIT_REGISTER_PER_IP: '2',
      RATE_LIMIT_REFRESH_PER_IP: '2',
      RATE_LIMIT_RESET_PER_IP: '2',
      RATE_LIMIT_MFA_PER_IP: '2',
    });
  });
  after(() => t.close());

  it('limits logins from one address across accounts, /auth/login and /auth/token together', async () => {
    const ip = randomIp();
    const login = (email: string) =>
      t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: 'wrong-password' }, remoteAddress: ip });
    const first = await login('a1@example.com');
    assert.equal(first.statusCode, 401);
    assert.equal(first.headers['x-ratelimit-limit'], '3');
    assert.equal(first.headers['x-ratelimit-remaining'], '2');
    assert.equal((await login('a2@example.com')).statusCode, 401);
    const form = await t.app.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'username=a3%40example.com&password=wrong-password',
      remoteAddress: ip,
    });
    assert.equal(form.statusCode, 401);
    assertLimited(await login('a4@example.com'), 60);
    // Another address is not affected.
    assert.equal(
      (await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'a5@example.com', password: 'x' }, remoteAddress: randomIp() }))
        .statusCode,
      401,
    );
  });

  it('limits registrations, refreshes, reset requests and 2FA checks from one address', async () => {
    const cases: { url: string; payload: () => Record<string, unknown> }[] = [
      { url: '/auth/register', payload: () => newUserBody() },
      { url: '/auth/refresh', payload: () => ({ refresh_token: randomBytes(32).toString('base64url') }) },
      { url: '/auth/password-reset/request', payload: () => ({ email: `r_${randomBytes(4).toString('hex')}@example.com` }) },
      { url: '/auth/2fa/verify', payload: () => ({ mfa_token: randomBytes(32).toString('base64url'), code: '123456' }) },
    ];
    for (const { url, payload } of cases) {
      const ip = randomIp();
      const send = () => t.app.inject({ method: 'POST', url, payload: payload(), remoteAddress: ip });
      for (let i = 0; i < 2; i++) assert.notEqual((await send()).statusCode, 429, url);
      assertLimited(await send(), 60);
    }
  });

  it('counts before the body is even read: malformed requests use up the budget too', async () => {
    const ip = randomIp();
    const send = () => t.app.inject({ method: 'POST', url: '/auth/register', payload: { nonsense: true }, remoteAddress: ip });
    assert.equal((await send()).statusCode, 422);
    assert.equal((await send()).statusCode, 422);
    assertLimited(await send(), 60);
  });

  it('keys on the client address from X-Forwarded-For only when TRUST_PROXY is on', async () => {
    const behindProxy = await buildTestApp({ TRUST_PROXY: '1', RATE_LIMIT_REGISTER_PER_IP: '1' });
    try {
      // The proxy (10.0.0.2) appends the address it received from; what the client wrote comes first.
      const send = (client: string, written?: string) =>
        behindProxy.app.inject({
          method: 'POST',
          url: '/auth/register',
          payload: { nonsense: true },
          remoteAddress: '10.0.0.2',
          headers: { 'x-forwarded-for': written === undefined ? client : `${written}, ${client}` },
        });
      assert.equal((await send('203.0.113.1')).statusCode, 422);
      assert.equal((await send('203.0.113.2')).statusCode, 422, 'another client behind the same proxy');
      assertLimited(await send('203.0.113.1'), 60);
      // Rotating what the client writes itself changes nothing: it is not the entry trusted.
      for (const written of ['1.1.1.1', '2.2.2.2', '3.3.3.3, 4.4.4.4']) assertLimited(await send('203.0.113.1', written), 60);
    } finally {
      await behindProxy.close();
    }
    // Without TRUST_PROXY the header is ignored: it cannot be used to dodge the limit.
    const ip = randomIp();
    const direct = (forwardedFor: string) =>
      t.app.inject({ method: 'POST', url: '/auth/register', payload: {}, headers: { 'x-forwarded-for': forwardedFor }, remoteAddress: ip });
    await direct('198.51.100.1');
    await direct('198.51.100.2');
    assertLimited(await direct('198.51.100.3'), 60);
  });

  it('lets no client-written X-Forwarded-For reach the address that sessions and the audit log record', async () => {
    const behindRender = await buildTestApp({ TRUST_PROXY: '2' });
    try {
      const s = await signUp(behindRender.app);
      // Client 198.51.100.77 writes 6.6.6.6; Cloudflare (104.22.17.40) and Render's proxy (10.21.0.1) follow.
      const res = await behindRender.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: s.body.email, password: 'wrong-password' },
        remoteAddress: '10.21.0.1',
        headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.77, 104.22.17.40' },
      });
      assert.equal(res.statusCode, 401);
      const [failed] = await behindRender.store.audit.list({ limit: 1, userId: s.id, type: 'login.failed' });
      assert.equal(failed?.ip, '198.51.100.77');
      const ok = await behindRender.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: s.body.email, password: s.body.password },
        remoteAddress: '10.21.0.1',
        headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.77, 104.22.17.40', 'user-agent': 'spoof-test' },
      });
      const sessions = await behindRender.app.inject({ url: '/auth/sessions', headers: bearer(ok.json().access_token) });
      assert.equal(sessions.json().find((x: { current: boolean }) => x.current).ip, '198.51.100.77');
    } finally {
      await behindRender.close();
    }
  });

  it('applies every limit of a GET to its HEAD too', async () => {
    const limited = await buildTestApp({ RATE_LIMIT_QR_LOGIN_PER_IP: '2' });
    try {
      const id = randomBytes(16).toString('base64url');
      const head = () =>
        limited.app.inject({ method: 'HEAD', url: `/auth/qr-login/${id}`, headers: { 'x-qr-login-secret': 'x' }, remoteAddress: '192.0.2.9' });
      assert.equal((await head()).statusCode, 404);
      assert.equal((await head()).statusCode, 404);
      assert.equal((await head()).statusCode, 429);
    } finally {
      await limited.close();
    }
  });

  it('sends 429s that other limits (the QR encoder) share: one shape, one code', async () => {
    const limited = await buildTestApp({ QR_ENCODE_RATE_LIMIT: '1' });
    try {
      const s = await signUp(limited.app);
      const encode = () => limited.app.inject({ method: 'POST', url: '/qr/encode', headers: bearer(s.token), payload: { data: 'x' } });
      assert.equal((await encode()).statusCode, 200);
      assertLimited(await encode(), 60);
    } finally {
      await limited.close();
    }
  });
});

describe('rate limits: per user, on every route that checks a password or a code', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({
      RATE_LIMIT_REAUTH_PER_USER: '3',
      RATE_LIMIT_VERIFY_EMAIL_PER_USER: '2',
      RATE_LIMIT_MFA_PER_USER: '2',
      RATE_LIMIT_QR_APPROVE_PER_USER: '2',
    });
  });
  after(() => t.close());
  const post = (url: string, token: string, payload?: Record<string, unknown>, remoteAddress = randomIp()) =>
    t.app.inject({ method: 'POST', url, headers: bearer(token), ...(payload ? { payload } : {}), remoteAddress });

  it('limits the password change, TOTP setup, confirm, disable and recovery codes together, per user', async () => {
    const s = await signUp(t.app);
    const other = await signUp(t.app);
    // Three wrong attempts, each from a new address: the user's budget, not the address's.
    assert.equal((await post('/users/me/password', s.token, { current_password: 'wrong-1', new_password: 'new password 1' })).statusCode, 403);
    assert.equal((await post('/auth/2fa/totp/setup', s.token, { password: 'wrong-2' })).statusCode, 403);
    assert.equal((await post('/auth/2fa/totp/confirm', s.token, { code: '123456' })).statusCode, 409);
    assertLimited(await post('/auth/2fa/totp/disable', s.token, { password: s.body.password, code: '123456' }), 60);
    assertLimited(await post('/auth/2fa/recovery-codes', s.token, { code: '123456' }), 60);
    assertLimited(await post('/users/me/password', s.token, { current_password: s.body.password, new_password: 'new password 2' }), 60);
    assert.equal((await post('/auth/2fa/totp/setup', other.token, { password: other.body.password })).statusCode, 200, 'another user is not limited');
  });

  it('limits verification mails per user (each one sends a mail)', async () => {
    const s = await signUp(t.app);
    assert.equal((await post('/auth/verify-email/request', s.token)).statusCode, 202);
    assert.equal((await post('/auth/verify-email/request', s.token)).statusCode, 202);
    assertLimited(await post('/auth/verify-email/request', s.token), 3600);
  });

  it('limits second-factor checks per user of the mfa_token, whatever the address', async () => {
    const s = await signUp(t.app);
    await t.store.updateUser(s.id, { totpSecret: 'JBSWY3DPEHPK3PXP', totpEnabled: true });
    const challenge = async () =>
      (await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: s.body.email, password: s.body.password } })).json()
        .mfa_token as string;
    const verify = async () =>
      t.app.inject({ method: 'POST', url: '/auth/2fa/verify', payload: { mfa_token: await challenge(), code: '000000' }, remoteAddress: randomIp() });
    assert.notEqual((await verify()).statusCode, 429);
    assert.notEqual((await verify()).statusCode, 429);
    assertLimited(await verify(), 60);
  });

  it('limits reading, approving and denying sign-in requests by QR per user', async () => {
    const s = await signUp(t.app);
    const start = async () => (await t.app.inject({ method: 'POST', url: '/auth/qr-login/start', remoteAddress: randomIp() })).json().id as string;
    const id = await start();
    assert.equal((await t.app.inject({ url: `/auth/qr-login/${id}/info`, headers: bearer(s.token) })).statusCode, 200);
    assert.equal((await post(`/auth/qr-login/${await start()}/deny`, s.token)).statusCode, 204);
    assertLimited(await post(`/auth/qr-login/${id}/approve`, s.token), 60);
    assertLimited(await t.app.inject({ url: `/auth/qr-login/${id}/info`, headers: bearer(s.token) }), 60);
  });
});

describe('rate limits: generous per-IP defaults (a school behind one NAT address)', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('default to at least 100 logins and 100 registrations a minute per IP', () => {
    const { rateLimits } = loadConfig({});
    assert.ok(rateLimits.loginPerIp.max >= 100 && rateLimits.loginPerIp.timeWindowMs <= 60_000);
    assert.ok(rateLimits.registerPerIp.max >= 100 && rateLimits.registerPerIp.timeWindowMs <= 60_000);
  });

  it('let 100 registrations and 100 logins of distinct accounts through from one address', async () => {
    // The cheap paths, so the test stays fast: each request passes every limit, then the service
    // refuses it before any password hashing (a too-short password; a password over 1024 bytes).
    const ip = '192.0.2.10';
    const accounts = Array.from({ length: 100 }, () => newUserBody());
    const registrations = await Promise.all(
      accounts.map((body) =>
        t.app.inject({ method: 'POST', url: '/auth/register', payload: { ...body, password: 'short' }, remoteAddress: ip }),
      ),
    );
    assert.deepEqual(
      registrations.map((r) => r.statusCode),
      accounts.map(() => 422),
    );
    const logins = await Promise.all(
      accounts.map((body) =>
        t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: body.email, password: 'é'.repeat(600) }, remoteAddress: ip }),
      ),
    );
    assert.deepEqual(
      logins.map((r) => r.statusCode),
      accounts.map(() => 401),
    );
    assert.ok(Number(logins.at(-1)?.headers['x-ratelimit-remaining']) >= 100, 'room to spare');
  });
});

describe('rate limits with Redis', () => {
  it('skip the limits (fail open) while Redis is unreachable, quickly, and still answer', async () => {
    const port = await freePort();
    const started = Date.now();
    const t = await buildTestApp({ REDIS_URL: `redis://127.0.0.1:${port}`, RATE_LIMIT_LOGIN_PER_ACCOUNT: '1' });
    try {
      const s = await signUp(t.app);
      for (let i = 0; i < 3; i++) {
        const res = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: s.body.email, password: s.body.password } });
        assert.equal(res.statusCode, 200, 'no 429 and no 500 while Redis is down');
      }
      assert.ok(Date.now() - started < 10_000, 'no request waited for Redis');
    } finally {
      await t.close();
    }
  });

  const redisUrl = process.env.TEST_REDIS_URL;
  if (!redisUrl) console.log('Redis: skipped (set TEST_REDIS_URL)');

  it('share the counters between two instances pointed at the same Redis', { skip: redisUrl ? false : 'set TEST_REDIS_URL' }, async () => {
    const env = { REDIS_URL: redisUrl as string, RATE_LIMIT_LOGIN_PER_ACCOUNT: '3', RATE_LIMIT_REGISTER_PER_IP: '3' };
    const one = await buildTestApp(env);
    const two = await buildTestApp(env);
    try {
      // Per account: attempts alternate between the instances; the fourth is refused by either.
      const email = `shared_${randomBytes(6).toString('hex')}@example.com`;
      const login = (app: TestApp) =>
        app.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: 'wrong-password' }, remoteAddress: randomIp() });
      assert.equal((await login(one)).statusCode, 401);
      assert.equal((await login(two)).statusCode, 401);
      assert.equal((await login(one)).statusCode, 401);
      assertLimited(await login(two), 60);
      assertLimited(await login(one), 60);

      // Per IP, likewise.
      const ip = randomIp();
      const registerFrom = (app: TestApp) =>
        app.app.inject({ method: 'POST', url: '/auth/register', payload: { nonsense: true }, remoteAddress: ip });
      assert.equal((await registerFrom(one)).statusCode, 422);
      assert.equal((await registerFrom(two)).statusCode, 422);
      assert.equal((await registerFrom(one)).statusCode, 422);
      const limited = await registerFrom(two);
      assertLimited(limited, 60);
      assert.equal(limited.headers['x-ratelimit-limit'], '3');
    } finally {
      await one.close();
      await two.close();
    }
  });
});
