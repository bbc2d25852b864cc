/**
 * The admins' API for OpenID Connect clients (/admin/oidc/clients), Dynamic Client Registration
 * behind OIDC_REGISTRATION_TOKEN, the token endpoint's rate limit, the audit events, and the
 * rule that a browser session ended elsewhere (logout-all) is no single sign-on any more.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { buildTestApp, login, signUp } from '../helpers/app.js';
import { createClient, MiniBrowser, type OidcTestApp, startOidcApp } from './helpers.js';

const CALLBACK = 'http://127.0.0.1:9/callback';
const REGISTRATION_TOKEN = 'registration-token-of-at-least-32-characters';

describe('/admin/oidc/clients', () => {
  let t: OidcTestApp;
  before(async () => {
    t = await startOidcApp({ OIDC_REGISTRATION_TOKEN: REGISTRATION_TOKEN, RATE_LIMIT_OIDC_TOKEN_PER_IP: '3' });
  });
  after(async () => {
    await t.close();
  });
  const admin = () => ({ authorization: `Bearer ${t.adminToken}` });

  it('is for admins only', async () => {
    const student = await signUp(t.app);
    const token = await login(t.app, String(student.body.email), String(student.body.password));
    for (const [method, url] of [['GET', '/admin/oidc/clients'], ['POST', '/admin/oidc/clients'], ['DELETE', '/admin/oidc/clients/x']] as const) {
      assert.equal((await t.app.inject({ method, url })).statusCode, 401, `${method} ${url} without a token`);
      const res = await t.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, payload: method === 'POST' ? {} : undefined });
      assert.equal(res.statusCode, 403, `${method} ${url} as a student`);
    }
  });

  it('shows the secret once and stores only its hash; lists without secrets; audits creation and removal', async () => {
    const created = await createClient(t, { name: 'Moodle', redirect_uris: [CALLBACK], trusted: false });
    assert.match(String(created.client_secret), /^[A-Za-z0-9_-]{43}$/);
    const record = await t.store.oidc.find('Client', created.client_id, new Date());
    assert.ok(record !== null);
    assert.ok(!record.payload.includes(String(created.client_secret)), 'the secret is not stored');
    assert.match(record.payload, /"client_secret":"sha256:/);

    const list = await t.app.inject({ url: '/admin/oidc/clients', headers: admin() });
    assert.equal(list.statusCode, 200);
    const found = (list.json() as Record<string, unknown>[]).find((c) => c.client_id === created.client_id);
    assert.equal(found?.name, 'Moodle');
    assert.equal(found?.type, 'confidential');
    assert.ok(!list.body.includes(String(created.client_secret)));
    assert.ok(!list.body.includes('client_secret'));

    assert.equal((await t.app.inject({ method: 'DELETE', url: `/admin/oidc/clients/${created.client_id}`, headers: admin() })).statusCode, 204);
    const again = await t.app.inject({ method: 'DELETE', url: `/admin/oidc/clients/${created.client_id}`, headers: admin() });
    assert.equal(again.statusCode, 404);
    assert.equal(again.json().code, 'OIDC_CLIENT_NOT_FOUND');
    const types = (await t.store.audit.list({ limit: 50 })).map((e) => e.type);
    assert.ok(types.includes('oidc.client_created'));
    assert.ok(types.includes('oidc.client_deleted'));
  });

  it('authenticates a confidential client by its secret, and refuses a wrong one (audited)', async () => {
    const created = await createClient(t, { name: 'Svc', redirect_uris: [], scopes: ['openid'] });
    const basic = (secret: string) => `Basic ${Buffer.from(`${created.client_id}:${secret}`).toString('base64')}`;
    const wrong = await fetch(`${t.issuer}/token`, {
      method: 'POST',
      headers: { authorization: basic('wrong'), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as { error: string }).error, 'invalid_client');
    const events = await t.store.audit.list({ limit: 10, type: 'oidc.token_failed' });
    assert.ok(events.some((e) => String(e.detail).includes('invalid_client')));
  });

  it('limits the token endpoint per IP (RATE_LIMIT_OIDC_TOKEN_PER_IP)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await t.app.inject({ method: 'POST', url: '/oidc/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials', remoteAddress: '198.51.100.7' });
      statuses.push(res.statusCode);
    }
    assert.ok(statuses.slice(0, 3).every((s) => s !== 429), String(statuses));
    assert.equal(statuses[4], 429);
  });

  it('refuses unknown scopes and a public client without redirect URIs (422)', async () => {
    const bad = await t.app.inject({ method: 'POST', url: '/admin/oidc/clients', headers: admin(), payload: { name: 'X', redirect_uris: [CALLBACK], type: 'public', scopes: ['admin'] } });
    assert.equal(bad.statusCode, 422);
    const noUri = await t.app.inject({ method: 'POST', url: '/admin/oidc/clients', headers: admin(), payload: { name: 'X', redirect_uris: [], type: 'public', scopes: ['openid'] } });
    assert.equal(noUri.statusCode, 422);
    const rs = await t.app.inject({ method: 'POST', url: '/admin/oidc/clients', headers: admin(), payload: { name: 'X', redirect_uris: [CALLBACK], type: 'confidential', scopes: ['openid'], id_token_alg: 'RS256' } });
    assert.equal(rs.statusCode, 422, 'RS256 needs an RSA key');
  });

  it('registers clients dynamically (RFC 7591) only with the initial access token, never trusted', async () => {
    const metadata = { redirect_uris: [CALLBACK], client_name: 'Self-registered', trusted: true };
    const without = await fetch(`${t.issuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata) });
    assert.equal(without.status, 401);
    const withToken = await fetch(`${t.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${REGISTRATION_TOKEN}` },
      body: JSON.stringify(metadata),
    });
    assert.equal(withToken.status, 201);
    const registered = (await withToken.json()) as { client_id: string; client_secret: string; trusted?: boolean };
    assert.ok(registered.client_secret);
    const record = await t.store.oidc.find('Client', registered.client_id, new Date());
    assert.ok(record !== null && !record.payload.includes(registered.client_secret), 'stored hashed');
    assert.notEqual(JSON.parse(record.payload).trusted, true, 'registration cannot make a client trusted');
  });

  it('asks for the password again once the browser session was ended elsewhere (logout-all)', async () => {
    const person = await signUp(t.app);
    const created = await createClient(t, { name: 'SSO', redirect_uris: [CALLBACK], trusted: true });
    const config = await oidc.discovery(new URL(t.issuer), created.client_id, undefined, oidc.ClientSecretBasic(String(created.client_secret)), {
      execute: [oidc.allowInsecureRequests],
    });
    const authUrl = async () => {
      const verifier = oidc.randomPKCECodeVerifier();
      return oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }).href;
    };
    const browser = new MiniBrowser(t.origin);
    await browser.authorize(await authUrl(), { login: String(person.body.email), password: String(person.body.password) });
    assert.match(await browser.authorize(await authUrl()), /code=/, 'single sign-on while the session lives');
    const token = await login(t.app, String(person.body.email), String(person.body.password));
    assert.equal((await t.app.inject({ method: 'POST', url: '/auth/logout-all', headers: { authorization: `Bearer ${token}` } })).statusCode, 204);
    await assert.rejects(browser.authorize(await authUrl()), /asked to sign in/);
  });
});

describe('OpenID Connect under HS256 tokens only (the old service\'s JWT_SECRET)', () => {
  it('stays off instead of stopping the service: it has no public key to sign with', async () => {
    const t = await buildTestApp({ PUBLIC_URL: 'http://127.0.0.1:9', JWT_SECRET: 'Vq3rT8pL2mZ9xK4sW7yB1nH6cF0dJ5gA8eR3tU2iO9pQ', JWT_ALG: 'HS256', QR_SIGNED: 'false' });
    try {
      assert.equal((await t.app.inject({ url: '/health/live' })).statusCode, 200);
      assert.equal((await t.app.inject({ url: '/oidc/.well-known/openid-configuration' })).statusCode, 404);
    } finally {
      await t.close();
    }
  });
});

describe('OpenID Connect without an issuer', () => {
  it('is off: no discovery, no client API', async () => {
    const t = await buildTestApp();
    try {
      assert.equal((await t.app.inject({ url: '/oidc/.well-known/openid-configuration' })).statusCode, 404);
      assert.equal((await t.app.inject({ url: '/admin/oidc/clients' })).statusCode, 404);
    } finally {
      await t.close();
    }
  });
});
