/**
 * The OpenID Connect provider end to end, with a relying party nobody here wrote (openid-client):
 * discovery, the authorization code flow with PKCE through the web front's real pages (signed in
 * and consented by a minimal cookie-following browser), ID token validation, userinfo, refresh
 * (rotating), revocation, introspection, client credentials, and the negative cases.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { bearer, signUp } from '../helpers/app.js';
import { createSoftAuthenticator } from '../helpers/soft-authenticator.js';
import { createClient, MiniBrowser, type OidcTestApp, startOidcApp } from './helpers.js';

const CALLBACK = 'http://127.0.0.1:9/callback';

/** openid-client's error for an OAuth error answer carries the code in `error`. */
const invalidGrant = (error: unknown) => (error as { error?: string }).error === 'invalid_grant';

describe('OpenID Connect provider', () => {
  let t: OidcTestApp;
  let student: { id: string; body: Record<string, unknown> };
  before(async () => {
    t = await startOidcApp();
    student = (await signUp(t.app)) as typeof student;
  });
  after(async () => {
    await t.close();
  });

  async function rp(client: { client_id: string; client_secret: string | null }) {
    const auth = client.client_secret === null ? oidc.None() : oidc.ClientSecretBasic(client.client_secret);
    return oidc.discovery(new URL(t.issuer), client.client_id, undefined, auth, { execute: [oidc.allowInsecureRequests] });
  }

  async function codeFlow(config: oidc.Configuration, browser: MiniBrowser, extra: Record<string, string> = {}, withPkce = true) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const params: Record<string, string> = {
      redirect_uri: CALLBACK,
      scope: 'openid profile email roles offline_access',
      prompt: 'consent',
      state,
      ...(withPkce ? { code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' } : {}),
      ...extra,
    };
    const url = oidc.buildAuthorizationUrl(config, params);
    const callback = await browser.authorize(url.href, { login: String(student.body.email), password: String(student.body.password) });
    return { callback, verifier, state };
  }

  it('publishes a discovery document with only the safe choices: code flow, S256, no "none"', async () => {
    const res = await fetch(`${t.issuer}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as Record<string, string[] | string>;
    assert.equal(doc.issuer, t.issuer);
    assert.deepEqual(doc.response_types_supported, ['code']);
    assert.deepEqual(doc.code_challenge_methods_supported, ['S256']);
    assert.ok(!(doc.id_token_signing_alg_values_supported as string[]).includes('none'));
    assert.ok((doc.id_token_signing_alg_values_supported as string[]).includes('EdDSA'));
    assert.ok(!(doc.grant_types_supported as string[]).includes('implicit'));
    for (const scope of ['openid', 'profile', 'email', 'roles', 'offline_access']) assert.ok((doc.scopes_supported as string[]).includes(scope));
    for (const claim of ['sub', 'email', 'email_verified', 'preferred_username', 'name', 'role']) assert.ok((doc.claims_supported as string[]).includes(claim));
    const jwks = (await (await fetch(String(doc.jwks_uri))).json()) as { keys: { kid: string; d?: string }[] };
    const published = (await t.app.inject({ url: '/.well-known/jwks.json' })).json() as { keys: { kid: string }[] };
    assert.deepEqual(jwks.keys.map((k) => k.kid), published.keys.map((k) => k.kid), 'the same Ed25519 keys as the service');
    assert.ok(jwks.keys.every((k) => k.d === undefined), 'no private key material');
  });

  it('runs the code flow with PKCE: ID token, userinfo with the claims, refresh (rotating), introspection, revocation', async () => {
    const client = await createClient(t, { name: 'School app', redirect_uris: [CALLBACK], post_logout_redirect_uris: [`${CALLBACK}/bye`] });
    const config = await rp(client);
    const browser = new MiniBrowser(t.origin);
    const { callback, verifier, state } = await codeFlow(config, browser);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state });
    const claims = tokens.claims();
    assert.equal(claims?.sub, student.id);
    assert.equal(claims?.iss, t.issuer);
    assert.equal(claims?.aud, client.client_id);

    const info = await oidc.fetchUserInfo(config, tokens.access_token, student.id);
    assert.equal(info.email, student.body.email);
    assert.equal(info.preferred_username, student.body.username);
    assert.equal(info.name, student.body.full_name);
    assert.equal(info.role, 'student');
    assert.equal(info.email_verified, false);

    assert.ok(tokens.refresh_token);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'refresh tokens rotate');
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token), invalidGrant, 'a used refresh token is refused');

    const active = await oidc.tokenIntrospection(config, String(refreshed.access_token));
    assert.equal(active.active, false, 'reusing the old refresh token revoked the grant');

    const again = await codeFlow(config, new MiniBrowser(t.origin));
    const second = await oidc.authorizationCodeGrant(config, new URL(again.callback), { pkceCodeVerifier: again.verifier, expectedState: again.state });
    assert.equal((await oidc.tokenIntrospection(config, second.access_token)).active, true);
    await oidc.tokenRevocation(config, String(second.refresh_token));
    assert.equal((await oidc.tokenIntrospection(config, second.access_token)).active, false, 'revoking the refresh token revokes the grant');
  });

  it('signs a second app in without asking for the password again (single sign-on); a trusted app skips consent', async () => {
    const first = await rp(await createClient(t, { name: 'First app', redirect_uris: [CALLBACK] }));
    const trusted = await rp(await createClient(t, { name: 'Library', redirect_uris: [CALLBACK], trusted: true }));
    const browser = new MiniBrowser(t.origin);
    await codeFlow(first, browser);
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(trusted, {
      redirect_uri: CALLBACK,
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    // No credentials: asking for them would throw.
    const callback = await browser.authorize(url.href);
    const tokens = await oidc.authorizationCodeGrant(trusted, new URL(callback), { pkceCodeVerifier: verifier });
    assert.equal(tokens.claims()?.sub, student.id);
  });

  it('signs a person in for an app with a passkey alone: no password typed, the same code and ID token', async () => {
    // The passkey, added through the API (PUBLIC_URL is the origin; the RP ID its host).
    const person = await signUp(t.app);
    const authn = createSoftAuthenticator({ origin: t.origin, rpId: new URL(t.origin).hostname });
    const begin = await t.app.inject({ method: 'POST', url: '/auth/passkeys/register/begin', headers: bearer(person.token), payload: {} });
    assert.equal(begin.statusCode, 200, begin.body);
    const added = await t.app.inject({
      method: 'POST',
      url: '/auth/passkeys/register/finish',
      headers: bearer(person.token),
      payload: { name: 'Phone', response: authn.register(begin.json()) },
    });
    assert.equal(added.statusCode, 201, added.body);

    const config = await rp(await createClient(t, { name: 'Canteen', redirect_uris: [CALLBACK] }));
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: CALLBACK,
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const browser = new MiniBrowser(t.origin);
    const signInPage = await browser.follow(url.href);
    assert.equal(new URL(signInPage.url).pathname, '/sign-in', 'the app sends a signed-out person to the sign-in page');
    const next = new URL(signInPage.url).searchParams.get('next') ?? '';
    assert.match(next, /^\/interaction\//);
    // What the sign-in page's passkey island sends: JSON with the page's CSRF token.
    const csrf = /(?:name="_csrf" value|data-csrf)="([^"]+)"/.exec(signInPage.body)?.[1] ?? '';
    const island = (path: string, body: Record<string, unknown>) =>
      browser.fetch(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: t.origin, 'sec-fetch-site': 'same-origin' },
        body: JSON.stringify({ ...body, _csrf: csrf }),
      });
    const options = await island('/sign-in/passkey/options', {});
    assert.equal(options.status, 200, await options.clone().text());
    const signedIn = await island('/sign-in/passkey', { response: authn.authenticate((await options.json()) as Parameters<typeof authn.authenticate>[0]), next });
    assert.equal(signedIn.status, 200, await signedIn.clone().text());
    const { redirect } = (await signedIn.json()) as { redirect: string };
    assert.equal(redirect, next, 'back to the app\'s sign-in request');
    // From here the browser session is the person's: consent, then the app's callback with a code.
    const callback = await browser.authorize(new URL(redirect, t.origin).href);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier });
    assert.equal(tokens.claims()?.sub, person.id);
    const info = await oidc.fetchUserInfo(config, tokens.access_token, person.id);
    assert.equal(info.email, person.body.email);
  });

  it('refuses a code used twice, and revokes the tokens issued for it', async () => {
    const config = await rp(await createClient(t, { name: 'Twice', redirect_uris: [CALLBACK] }));
    const { callback, verifier, state } = await codeFlow(config, new MiniBrowser(t.origin));
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state });
    await assert.rejects(oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state }), invalidGrant);
    assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, false);
  });

  it('refuses a redirect URI that is not registered', async () => {
    const client = await createClient(t, { name: 'Strict', redirect_uris: [CALLBACK] });
    const res = await fetch(`${t.issuer}/auth?client_id=${client.client_id}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`, {
      redirect: 'manual',
    });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /redirect_uri/);
  });

  it('refuses a public client that sends no PKCE, and the implicit flow', async () => {
    const client = await createClient(t, { name: 'SPA', redirect_uris: [CALLBACK], type: 'public' });
    assert.equal(client.client_secret, null);
    const base = `${t.issuer}/auth?client_id=${client.client_id}&scope=openid&redirect_uri=${encodeURIComponent(CALLBACK)}`;
    const noPkce = await fetch(`${base}&response_type=code`, { redirect: 'manual' });
    assert.match(String(noPkce.headers.get('location')), /error=invalid_request.*PKCE/);
    const implicit = await fetch(`${base}&response_type=id_token&nonce=n`, { redirect: 'manual' });
    assert.match(String(implicit.headers.get('location')) + (await implicit.text()), /unsupported_response_type/);
    const plain = await fetch(`${base}&response_type=code&code_challenge=${'a'.repeat(43)}&code_challenge_method=plain`, { redirect: 'manual' });
    assert.match(String(plain.headers.get('location')), /error=invalid_request/);
  });

  it('gives a disabled user no tokens: no new code, no userinfo, no refresh', async () => {
    const person = await signUp(t.app);
    const config = await rp(await createClient(t, { name: 'Canteen', redirect_uris: [CALLBACK], trusted: true }));
    const browser = new MiniBrowser(t.origin);
    const verifier = oidc.randomPKCECodeVerifier();
    const params = { redirect_uri: CALLBACK, scope: 'openid offline_access', prompt: 'consent', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' };
    const callback = await browser.authorize(oidc.buildAuthorizationUrl(config, params).href, { login: String(person.body.email), password: String(person.body.password) });
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier });
    const disable = await t.app.inject({ method: 'PATCH', url: `/users/${person.id}`, headers: { authorization: `Bearer ${t.adminToken}` }, payload: { disabled: true } });
    assert.ok(disable.statusCode < 300, disable.body);
    await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, person.id));
    await assert.rejects(oidc.refreshTokenGrant(config, String(tokens.refresh_token)), invalidGrant);
    await assert.rejects(browser.authorize(oidc.buildAuthorizationUrl(config, params).href), /asked to sign in/);
  });

  it('stops a removed client at once: its access token no longer reaches userinfo, its refresh token is refused', async () => {
    const client = await createClient(t, { name: 'Old app', redirect_uris: [CALLBACK] });
    const config = await rp(client);
    const { callback, verifier, state } = await codeFlow(config, new MiniBrowser(t.origin));
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state });
    const removed = await t.app.inject({ method: 'DELETE', url: `/admin/oidc/clients/${client.client_id}`, headers: { authorization: `Bearer ${t.adminToken}` } });
    assert.equal(removed.statusCode, 204);
    const info = await fetch(`${t.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(info.status, 401);
    // 401 with a WWW-Authenticate challenge: the client itself is unknown now (invalid_client).
    await assert.rejects(oidc.refreshTokenGrant(config, String(tokens.refresh_token)), (error: unknown) => {
      const e = error as { name?: string; error?: string; response?: Response };
      return e.error === 'invalid_client' || (e.name === 'WWWAuthenticateChallengeError' && e.response?.status === 401);
    });
  });

  it('issues service tokens by client credentials to a confidential client', async () => {
    const config = await rp(await createClient(t, { name: 'Timetable sync', redirect_uris: [], scopes: ['openid'] }));
    const tokens = await oidc.clientCredentialsGrant(config);
    assert.ok(tokens.access_token);
  });

  it('logs out (RP-initiated) and asks for the password again afterwards', async () => {
    const client = await createClient(t, { name: 'Logout app', redirect_uris: [CALLBACK], post_logout_redirect_uris: [`${CALLBACK}/bye`] });
    const config = await rp(client);
    const browser = new MiniBrowser(t.origin);
    const { callback, verifier, state } = await codeFlow(config, browser);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state });
    const end = oidc.buildEndSessionUrl(config, { id_token_hint: String(tokens.id_token), post_logout_redirect_uri: `${CALLBACK}/bye` });
    const page = await browser.follow(end.href);
    const form = /<form[^>]*action="([^"]+)"[\s\S]*?name="xsrf" value="([^"]+)"/.exec(page.body);
    assert.ok(form, page.body.slice(0, 500));
    const res = await browser.fetch(form[1] as string, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ xsrf: form[2] as string, logout: 'yes' }).toString(),
    });
    const done = await browser.follow(String(res.headers.get('location')));
    assert.equal(done.url, `${CALLBACK}/bye`);
    const verifier2 = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier2), code_challenge_method: 'S256' });
    await assert.rejects(browser.authorize(url.href), /asked to sign in/);
  });
});
