import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { generateSigningJwk } from '../../../src/auth/tokens/keys.js';
import { hashToken } from '../../../src/auth/sessions/session-service.js';
import { bearer, buildTestApp, signUp, type TestApp } from '../../helpers/app.js';
import { decodePng, decodeSvg } from '../../helpers/qr-decode.js';

type Session = Awaited<ReturnType<typeof signUp>>;
const SECRET_HEADER = 'x-qr-login-secret';

describe('sign in by QR', () => {
  let t: TestApp;
  let phone: Session;

  const start = async (userAgent = 'Living-room TV') => {
    const res = await t.app.inject({ method: 'POST', url: '/auth/qr-login/start', headers: { 'user-agent': userAgent } });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as { id: string; secret: string; expires_in: number; interval: number; qr_data: string; qr_png_base64: string; qr_svg: string };
  };
  /** The first device polls and collects (POST). */
  const poll = (id: string, secret?: string) =>
    t.app.inject({ method: 'POST', url: `/auth/qr-login/${id}`, headers: secret === undefined ? {} : { [SECRET_HEADER]: secret } });
  /** The first device only reads the status (GET or HEAD). */
  const status = (id: string, secret: string, method: 'GET' | 'HEAD' = 'GET') =>
    t.app.inject({ method, url: `/auth/qr-login/${id}`, headers: { [SECRET_HEADER]: secret } });
  const approve = (id: string, token: string | null = phone.token) =>
    t.app.inject({ method: 'POST', url: `/auth/qr-login/${id}/approve`, headers: token === null ? {} : bearer(token) });
  const deny = (id: string) => t.app.inject({ method: 'POST', url: `/auth/qr-login/${id}/deny`, headers: bearer(phone.token) });
  const info = (id: string, token: string | null = phone.token) =>
    t.app.inject({ url: `/auth/qr-login/${id}/info`, headers: token === null ? {} : bearer(token) });

  before(async () => {
    t = await buildTestApp();
    phone = await signUp(t.app);
  });
  after(() => t.close());

  it('runs end to end over a real socket: the TV starts, the phone approves, the TV gets tokens once', async () => {
    const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    // Device A: a TV with no account signed in.
    const tv = (path: string, init: RequestInit = {}) =>
      fetch(`${base}${path}`, { ...init, headers: { 'user-agent': 'Living-room TV', ...(init.headers ?? {}) } });
    // Device B: the phone, signed in.
    const mobile = (path: string, init: RequestInit = {}) =>
      fetch(`${base}${path}`, {
        ...init,
        headers: { 'user-agent': 'Phone app', authorization: `Bearer ${phone.token}`, ...(init.headers ?? {}) },
      });

    const started = await tv('/auth/qr-login/start', { method: 'POST' });
    assert.equal(started.status, 200);
    assert.equal(started.headers.get('cache-control'), 'no-store');
    const request = (await started.json()) as { id: string; secret: string; qr_png_base64: string };

    // The phone reads the QR on the TV's screen: only the id is in it.
    const scanned = decodePng(Buffer.from(request.qr_png_base64, 'base64')).text;
    assert.ok(!scanned.includes(request.secret));
    const id = new URL(scanned).searchParams.get('id') as string;
    assert.equal(id, request.id);

    const pending = await tv(`/auth/qr-login/${request.id}`, { method: 'POST', headers: { [SECRET_HEADER]: request.secret } });
    assert.equal(pending.status, 200);
    assert.equal(((await pending.json()) as { status: string }).status, 'pending');

    const shown = await mobile(`/auth/qr-login/${id}/info`);
    assert.equal(shown.status, 200);
    const asking = (await shown.json()) as { user_agent: string; ip: string; created_at: string; status: string };
    assert.equal(asking.user_agent, 'Living-room TV');
    assert.equal(asking.ip, '127.0.0.1');
    assert.equal(asking.status, 'pending');
    assert.ok(Math.abs(Date.parse(asking.created_at) - Date.now()) < 60_000);

    const approved = await mobile(`/auth/qr-login/${id}/approve`, { method: 'POST' });
    assert.equal(approved.status, 204);

    const done = await tv(`/auth/qr-login/${request.id}`, { method: 'POST', headers: { [SECRET_HEADER]: request.secret } });
    assert.equal(done.status, 200);
    const tokens = (await done.json()) as { status: string; access_token: string; refresh_token: string; token_type: string };
    assert.equal(tokens.status, 'approved');
    assert.equal(tokens.token_type, 'bearer');
    const me = await tv('/users/me', { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { id: string }).id, phone.id, "signed in as the phone's user");
    const sessions = await tv('/auth/sessions', { headers: { authorization: `Bearer ${tokens.access_token}` } });
    const current = ((await sessions.json()) as { current: boolean; user_agent: string }[]).find((s) => s.current);
    assert.equal(current?.user_agent, 'Living-room TV', 'the new session is the TV');

    const replay = await tv(`/auth/qr-login/${request.id}`, { method: 'POST', headers: { [SECRET_HEADER]: request.secret } });
    assert.equal(replay.status, 404, 'tokens are handed out once; then the request is gone');
    assert.equal(((await replay.json()) as { code: string }).code, 'QR_LOGIN_NOT_FOUND');

    const events = await t.store.audit.list({ limit: 10, userId: phone.id });
    assert.ok(events.some((e) => e.type === 'qr_login.approved' && e.userAgent === 'Phone app'));
    assert.ok(events.some((e) => e.type === 'qr_login.completed' && e.userAgent === 'Living-room TV'));
  });

  it('returns a QR (PNG and SVG) of the request, an expiry and a poll interval', async () => {
    const request = await start();
    assert.match(request.id, /^[A-Za-z0-9_-]{22}$/);
    assert.match(request.secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(request.expires_in, 120);
    assert.equal(request.interval, 2);
    // No PUBLIC_URL outside production: the service's own page on localhost, at the port it listens
    // on (the first test put this app on a socket).
    const address = t.app.server.address();
    const port = address !== null && typeof address === 'object' ? address.port : 8000;
    assert.equal(request.qr_data, `http://localhost:${port}/qr-login?id=${request.id}`);
    assert.equal(decodePng(Buffer.from(request.qr_png_base64, 'base64')).text, request.qr_data);
    assert.equal(decodeSvg(request.qr_svg).text, request.qr_data);
  });

  it('links to PUBLIC_URL when set, never to the Host header; to the app scheme in production without it', async () => {
    const other = await buildTestApp({ PUBLIC_URL: 'https://app.example.com/' });
    try {
      const res = await other.app.inject({ method: 'POST', url: '/auth/qr-login/start', headers: { host: 'evil.example' } });
      const { id, qr_data: data } = res.json();
      assert.equal(data, `https://app.example.com/qr-login?id=${id}`);
    } finally {
      await other.close();
    }
    const production = await buildTestApp({ NODE_ENV: 'production', JWT_SIGNING_KEYS: JSON.stringify([await generateSigningJwk()]) });
    try {
      const res = await production.app.inject({ method: 'POST', url: '/auth/qr-login/start', headers: { host: 'evil.example' } });
      assert.equal(res.json().qr_data, `authqr://login?id=${res.json().id}`);
    } finally {
      await production.close();
    }
  });

  it('follows the port the server actually listens on (PORT=0) in development links', async () => {
    const listening = await buildTestApp({ PORT: '0' });
    try {
      const base = await listening.app.listen({ port: 0, host: '127.0.0.1' });
      const port = new URL(base).port;
      const res = await fetch(`${base}/auth/qr-login/start`, { method: 'POST' });
      const body = (await res.json()) as { id: string; qr_data: string };
      assert.equal(body.qr_data, `http://localhost:${port}/qr-login?id=${body.id}`);
    } finally {
      await listening.close();
    }
  });

  it('refuses to approve twice (409), and a second poll after success (404)', async () => {
    const request = await start();
    assert.equal((await approve(request.id)).statusCode, 204);
    const again = await approve(request.id);
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().code, 'QR_LOGIN_ALREADY_DECIDED');
    const other = await signUp(t.app);
    assert.equal((await approve(request.id, other.token)).statusCode, 409, 'nor by someone else');
    assert.equal((await poll(request.id, request.secret)).json().status, 'approved');
    assert.equal((await poll(request.id, request.secret)).statusCode, 404);
    assert.equal((await approve(request.id)).statusCode, 404);
  });

  it('refuses a wrong or missing secret without spoiling the request', async () => {
    const request = await start();
    const wrong = randomBytes(32).toString('base64url');
    const pending = await poll(request.id, wrong);
    assert.equal(pending.statusCode, 403);
    assert.equal(pending.json().code, 'QR_LOGIN_SECRET_MISMATCH');
    assert.equal((await poll(request.id)).statusCode, 401);
    assert.equal((await approve(request.id)).statusCode, 204);
    for (let i = 0; i < 3; i++) assert.equal((await poll(request.id, wrong)).statusCode, 403, 'after approval too');
    const right = await poll(request.id, request.secret);
    assert.equal(right.statusCode, 200, right.body);
    assert.equal(right.json().status, 'approved');
    assert.ok(right.json().access_token);
  });

  it('fails cleanly for an expired request, pending or approved', async () => {
    const id = randomBytes(16).toString('base64url');
    const secret = 'expired-secret';
    const past = new Date(Date.now() - 1000);
    const data = JSON.stringify({
      secret_hash: hashToken(secret),
      user_agent: 'old TV',
      ip: '10.0.0.1',
      created_at: new Date(Date.now() - 121_000).toISOString(),
      status: 'pending',
    });
    await t.store.oneTimeTokens.insert({ hash: hashToken(id), purpose: 'qr_login', userId: null, createdAt: past, expiresAt: past, data });
    assert.equal((await poll(id, secret)).statusCode, 404);
    assert.equal((await info(id)).statusCode, 404);
    assert.equal((await approve(id)).statusCode, 404);

    // Approved in time, collected too late.
    const late = await start();
    assert.equal((await approve(late.id)).statusCode, 204);
    const approvedHash = hashToken(`approved:${late.id}`);
    const stored = await t.store.oneTimeTokens.consume(approvedHash, 'qr_login_approved', new Date());
    assert.ok(stored);
    await t.store.oneTimeTokens.insert({ ...stored, expiresAt: past });
    assert.equal((await poll(late.id, late.secret)).statusCode, 404);
  });

  it('needs a bearer token to approve, deny or read who asks (401)', async () => {
    const request = await start();
    assert.equal((await approve(request.id, null)).statusCode, 401);
    assert.equal((await info(request.id, null)).statusCode, 401);
    assert.equal((await t.app.inject({ method: 'POST', url: `/auth/qr-login/${request.id}/deny` })).statusCode, 401);
    assert.equal((await poll(request.id, request.secret)).json().status, 'pending', 'still pending');
  });

  it('lets the phone deny: the device learns it once, and approval is refused', async () => {
    const request = await start();
    assert.equal((await deny(request.id)).statusCode, 204);
    assert.equal((await info(request.id)).json().status, 'denied');
    assert.equal((await approve(request.id)).statusCode, 409);
    const denied = await poll(request.id, request.secret);
    assert.equal(denied.statusCode, 200);
    assert.deepEqual(denied.json(), { status: 'denied' });
    assert.equal((await poll(request.id, request.secret)).statusCode, 404);
    const events = await t.store.audit.list({ limit: 5, userId: phone.id, type: 'qr_login.denied' });
    assert.equal(JSON.parse(events[0]?.detail ?? '{}').requested_by.user_agent, 'Living-room TV');
  });

  it('asks for the second factor when the user has one (401 MFA_REQUIRED with an mfa_token)', async () => {
    const careful = await signUp(t.app);
    const request = await start();
    assert.equal((await approve(request.id, careful.token)).statusCode, 204);
    await t.store.updateUser(careful.id, { totpSecret: 'JBSWY3DPEHPK3PXP', totpEnabled: true });
    const res = await poll(request.id, request.secret);
    assert.equal(res.statusCode, 401, res.body);
    assert.equal(res.json().code, 'MFA_REQUIRED');
    assert.match(res.json().mfa_token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal((await poll(request.id, request.secret)).statusCode, 404, 'the request is used up');
  });

  it('never changes anything on GET or HEAD: reading an approved request leaves its tokens for the POST', async () => {
    const request = await start();
    assert.equal((await approve(request.id)).statusCode, 204);
    for (let i = 0; i < 3; i++) {
      const read = await status(request.id, request.secret);
      assert.deepEqual(read.json(), { status: 'approved' }, 'no tokens in a read');
      assert.equal((await status(request.id, request.secret, 'HEAD')).statusCode, 200);
    }
    const collected = await poll(request.id, request.secret);
    assert.equal(collected.statusCode, 200);
    assert.ok(collected.json().access_token, 'the tokens are still there for the POST');
    assert.equal((await status(request.id, request.secret)).statusCode, 404, 'then the request is gone');

    const denied = await start();
    assert.equal((await deny(denied.id)).statusCode, 204);
    assert.deepEqual((await status(denied.id, denied.secret)).json(), { status: 'denied' });
    assert.deepEqual((await status(denied.id, denied.secret)).json(), { status: 'denied' }, 'a read uses nothing up');
  });

  it('needs a live session to approve: a logged-out one cannot sign another device in', async () => {
    const owner = await signUp(t.app);
    const request = await start();
    assert.equal((await t.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(owner.token) })).statusCode, 204);
    const refused = await approve(request.id, owner.token);
    assert.equal(refused.statusCode, 401, 'the access token of a logged-out session is refused at once');
    assert.equal((await poll(request.id, request.secret)).json().status, 'pending', 'nothing was used up');

    // A session revoked by other means than this service's logout (its access token not yet listed).
    const other = await signUp(t.app);
    const sid = JSON.parse(Buffer.from(other.token.split('.')[1] as string, 'base64url').toString()).sid as string;
    await t.store.sessions.revoke(sid, new Date());
    const noSession = await approve(request.id, other.token);
    assert.equal(noSession.statusCode, 403);
    assert.equal(noSession.json().code, 'SESSION_REQUIRED');
    assert.equal((await poll(request.id, request.secret)).json().status, 'pending');
  });

  it('gives the new session no longer a life than the approving one', async () => {
    const owner = await signUp(t.app);
    const sessions = async (token: string) =>
      (await t.app.inject({ url: '/auth/sessions', headers: bearer(token) })).json() as { current: boolean; expires_at: string }[];
    const approving = (await sessions(owner.token)).find((s) => s.current);
    assert.ok(approving);
    const request = await start();
    assert.equal((await approve(request.id, owner.token)).statusCode, 204);
    const tokens = (await poll(request.id, request.secret)).json() as { access_token: string };
    const created = (await sessions(tokens.access_token)).find((s) => s.current);
    assert.ok(created);
    assert.ok(Date.parse(created.expires_at) <= Date.parse(approving.expires_at), `${created.expires_at} > ${approving.expires_at}`);
  });

  it('hands nothing to a device whose user was disabled after approving', async () => {
    const owner = await signUp(t.app);
    const request = await start();
    assert.equal((await approve(request.id, owner.token)).statusCode, 204);
    await t.store.updateUser(owner.id, { disabled: true });
    const res = await poll(request.id, request.secret);
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().code, 'ACCOUNT_DISABLED');
    assert.equal(res.json().access_token, undefined);
  });

  it('answers 404 for an unknown id and 422 for a malformed one', async () => {
    const unknown = randomBytes(16).toString('base64url');
    assert.equal((await poll(unknown, 'x')).statusCode, 404);
    assert.equal((await info(unknown)).statusCode, 404);
    assert.equal((await approve(unknown)).statusCode, 404);
    assert.equal((await deny(unknown)).statusCode, 404);
    assert.equal((await poll('not-an-id', 'x')).statusCode, 422);
  });
});
