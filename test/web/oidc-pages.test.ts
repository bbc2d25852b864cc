/**
 * The OpenID Connect pages of the web front, server-side: the interaction page's answers to an
 * unknown or expired request, the consent form's CSRF check and "Deny", and /manage/apps for
 * admins only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { Secret, TOTP } from 'otpauth';
import { bearer, login, signUp } from '../helpers/app.js';
import { createClient, MiniBrowser, type OidcTestApp, startOidcApp } from '../oidc/helpers.js';

const CALLBACK = 'http://127.0.0.1:9/callback';

describe('OpenID Connect pages', () => {
  let t: OidcTestApp;
  before(async () => {
    t = await startOidcApp();
  });
  after(async () => {
    await t.close();
  });

  it('answers an unknown or expired sign-in request with a page saying to start again from the app', async () => {
    const res = await fetch(`${t.origin}/interaction/not-a-real-one`, { headers: { accept: 'text/html' } });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /This sign-in request has expired/);
  });

  it('refuses a consent form without its CSRF token, and sends access_denied to the app on "Deny" (audited)', async () => {
    const person = await signUp(t.app);
    const client = await createClient(t, { name: 'Quiz app', redirect_uris: [CALLBACK] });
    const config = await oidc.discovery(new URL(t.issuer), client.client_id, undefined, oidc.ClientSecretBasic(String(client.client_secret)), {
      execute: [oidc.allowInsecureRequests],
    });
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid email', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const browser = new MiniBrowser(t.origin);
    // Sign in on the way, stop at the consent page.
    let step = await browser.follow(url.href);
    const signIn = await browser.submit('/sign-in', step.body, { login: String(person.body.email), password: String(person.body.password), next: new URL(step.url).searchParams.get('next') ?? '/' });
    step = await browser.follow(String(signIn.headers.get('location')));
    assert.match(step.body, /Allow Quiz app to sign you in\?/);
    const consentPath = new URL(step.url).pathname;

    const forged = await browser.fetch(consentPath, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: t.origin },
      body: 'decision=allow',
    });
    assert.equal(forged.status, 403);

    const denied = await browser.submit(consentPath, step.body, { decision: 'deny' });
    const done = await browser.follow(String(denied.headers.get('refresh')).replace(/^0;url=/, ''));
    assert.match(done.url, /^http:\/\/127\.0\.0\.1:9\/callback\?error=access_denied/);
    const events = await t.store.audit.list({ limit: 5, type: 'oidc.consent_denied' });
    assert.equal(events[0]?.userId, person.id);
  });

  it('asks a person with two-factor authentication for the code before the app gets its code', async () => {
    const person = await signUp(t.app);
    const email = String(person.body.email);
    const password = String(person.body.password);
    const token = await login(t.app, email, password);
    const setup = await t.app.inject({ method: 'POST', url: '/auth/2fa/totp/setup', payload: { password }, headers: bearer(token) });
    const secret = Secret.fromBase32(setup.json().secret as string);
    const confirmed = await t.app.inject({ method: 'POST', url: '/auth/2fa/totp/confirm', payload: { code: TOTP.generate({ secret }) }, headers: bearer(token) });
    assert.equal(confirmed.statusCode, 200, confirmed.body);
    const recovery = confirmed.json().recovery_codes as string[];

    const client = await createClient(t, { name: 'Canteen', redirect_uris: [CALLBACK], trusted: true });
    const config = await oidc.discovery(new URL(t.issuer), client.client_id, undefined, oidc.ClientSecretBasic(String(client.client_secret)), {
      execute: [oidc.allowInsecureRequests],
    });
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const browser = new MiniBrowser(t.origin);
    const signInPage = await browser.follow(url.href);
    const next = new URL(signInPage.url).searchParams.get('next') ?? '/';
    const afterPassword = await browser.submit('/sign-in', signInPage.body, { login: email, password, next });
    const codeStep = await browser.follow(String(afterPassword.headers.get('location')));
    assert.equal(new URL(codeStep.url).pathname, '/sign-in/code', 'the password alone is not enough');
    const afterCode = await browser.submit('/sign-in/code', codeStep.body, { code: recovery[0] as string, next });
    const done = await browser.follow(String(afterCode.headers.get('location')));
    const tokens = await oidc.authorizationCodeGrant(config, new URL(done.url), { pkceCodeVerifier: verifier });
    assert.equal(tokens.claims()?.sub, person.id);
  });

  it('shows /manage/apps to admins only', async () => {
    const anonymous = await fetch(`${t.origin}/manage/apps`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    assert.equal(anonymous.status, 303);
    assert.match(String(anonymous.headers.get('location')), /^\/sign-in/);
    const person = await signUp(t.app);
    const browser = new MiniBrowser(t.origin);
    const page = await browser.follow('/sign-in');
    await browser.submit('/sign-in', page.body, { login: String(person.body.email), password: String(person.body.password), next: '/' });
    const forbidden = await browser.fetch('/manage/apps');
    assert.equal(forbidden.status, 403);
  });

  it('links /manage/apps from the admin pages\' navigation, marked as the current page there', async () => {
    const admin = new MiniBrowser(t.origin);
    const page = await admin.follow('/sign-in');
    await admin.submit('/sign-in', page.body, { login: 'admin@example.com', password: 'admin-password-1', next: '/' });
    for (const path of ['/manage/users', '/manage/audit']) {
      const nav = /<nav class="manage-nav"[^]*?<\/nav>/.exec(await (await admin.fetch(path)).text())?.[0] ?? '';
      assert.match(nav, /<a href="\/manage\/apps">Apps<\/a>/, path);
    }
    const apps = await admin.fetch('/manage/apps');
    assert.equal(apps.status, 200);
    assert.match(await apps.text(), /<a href="\/manage\/apps" aria-current="page">Apps<\/a>/);
  });
});
