import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type ServerProcess, startServer, waitHealthy } from '../helpers/server-process.js';

const ADMIN = { email: 'root@example.com', password: 'root-password-123', username: 'root' };

async function json(res: Response) {
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & Record<string, unknown>[] };
}

describe('the service over a real socket', () => {
  let server: ServerProcess;
  const post = (path: string, body: unknown, token?: string) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
  const get = (path: string, token?: string) =>
    fetch(`${server.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  before(async () => {
    server = await startServer({
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      ADMIN_USERNAME: ADMIN.username,
      JWT_SECRET: randomBytes(48).toString('base64'),
    });
    await waitHealthy(server);
  });
  after(async () => {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
  });

  it("runs the old service's walkthrough: register, login, me, QR, admin list, delete", async () => {
    const reg = await json(await post('/auth/register', { username: 'walker', email: 'walker@example.com', password: 'walker-pass-1' }));
    assert.equal(reg.status, 201);
    const userId = reg.body.id as string;

    const login = await json(await post('/auth/login', { email: 'walker@example.com', password: 'walker-pass-1' }));
    assert.equal(login.status, 200);
    assert.equal(login.body.token_type, 'bearer');
    const token = login.body.access_token as string;

    const me = await json(await get('/users/me', token));
    assert.equal(me.body.id, userId);

    const qr = await json(await post('/qr/generate', {}, token));
    assert.equal(qr.status, 200);
    assert.equal(qr.body.data, `USER:${userId}|EMAIL:walker@example.com|ROLE:student`);
    const stored = await json(await get(`/qr/${userId}`, token));
    assert.equal(stored.body.qr_code_base64, qr.body.qr_code_base64);

    const adminLogin = await json(await post('/auth/login', { email: ADMIN.email, password: ADMIN.password }));
    assert.equal(adminLogin.status, 200, 'ADMIN_EMAIL/ADMIN_PASSWORD created the first admin');
    const adminToken = adminLogin.body.access_token as string;
    const list = await json(await get('/users', adminToken));
    assert.equal(list.status, 200);
    assert.ok((list.body as unknown as { email: string }[]).some((u) => u.email === 'walker@example.com'));

    const del = await json(await fetch(`${server.url}/users/${userId}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } }));
    assert.deepEqual(del.body, { message: 'User deleted successfully', user_id: userId });
    assert.equal((await get('/users/me', token)).status, 401);
  });

  it('answers a request id, logs one line per request and never a password or token', async () => {
    const res = await post('/auth/login', { email: ADMIN.email, password: ADMIN.password });
    const { access_token: token } = (await res.json()) as { access_token: string };
    const requestId = res.headers.get('x-request-id');
    assert.ok(requestId);
    await get('/users/me', token);
    // The child's log line reaches our pipe a moment after its response: wait for it (bounded).
    const linesOf = () => server.stdout().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const deadline = Date.now() + 5000;
    while (!linesOf().some((l) => l.reqId === requestId) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const mine = linesOf().filter((l) => l.reqId === requestId);
    assert.equal(mine.length, 1, 'one line per request');
    assert.equal(mine[0]?.status, 200);
    const everything = server.stdout() + server.stderr();
    assert.ok(!everything.includes(ADMIN.password), 'no password in the log');
    assert.ok(!everything.includes(token), 'no token in the log');
    assert.ok(!everything.includes('$argon2id$'), 'no hash in the log');
  });

  it('finishes in-flight requests on SIGTERM, then exits 0', async () => {
    const logins = Array.from({ length: 4 }, () => post('/auth/login', { email: ADMIN.email, password: ADMIN.password }));
    const first = await Promise.race(logins);
    server.child.kill('SIGTERM');
    assert.equal(first.status, 200);
    const all = await Promise.all(logins);
    assert.deepEqual(all.map((r) => r.status), [200, 200, 200, 200]);
    assert.equal(await server.exited, 0);
    await assert.rejects(fetch(`${server.url}/health/live`), 'no longer accepting');
  });
});

describe('start-up refusals', () => {
  it('refuses to start in production without a signing key, saying what to set (defect 2)', async () => {
    const server = await startServer({ NODE_ENV: 'production' });
    const code = await server.exited;
    assert.notEqual(code, 0);
    assert.match(server.stderr(), /JWT_SIGNING_KEYS .* or JWT_SECRET .* is required when NODE_ENV=production/);
  });

  it('refuses JWT_ALG=HS256 in production without JWT_SECRET', async () => {
    const server = await startServer({ NODE_ENV: 'production', JWT_ALG: 'HS256' });
    assert.notEqual(await server.exited, 0);
    assert.match(server.stderr(), /is required when NODE_ENV=production/);
  });

  it('refuses a JWT_SECRET shorter than 32 bytes', async () => {
    const server = await startServer({ JWT_SECRET: 'short' });
    assert.notEqual(await server.exited, 0);
    assert.match(server.stderr(), /JWT_SECRET must be at least 32 bytes/);
  });

  it('still writes the log lines gathered before a failed start (the batched log is flushed on exit)', async () => {
    // The signing key is generated (and logged) before the store opens; the store cannot open
    // (its folder would be inside a file: the node binary).
    const server = await startServer({ DATABASE_URL: `sqlite:${process.execPath}/app.db` });
    assert.notEqual(await server.exited, 0);
    assert.match(server.stderr(), /Failed to start/);
    const lines = server.stdout().trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg?: string });
    assert.ok(lines.some((l) => /generated an Ed25519 signing key/.test(l.msg ?? '')), server.stdout());
  });
});
