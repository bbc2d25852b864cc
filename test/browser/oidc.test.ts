/**
 * Single sign-on in a real browser: openid-client (a relying party nobody here wrote) sends
 * Chromium through the provider and the web front's real pages (sign-in, consent), exchanges the
 * code, validates the ID token, calls userinfo, refreshes, revokes; a second (trusted) app in the
 * same browser gets its code with no password asked; RP-initiated logout ends it all. The sign-in,
 * consent and /manage/apps pages are checked by axe and photographed.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { newUserBody } from '../helpers/app.js';
import { createClient, type OidcTestApp, startOidcApp } from '../oidc/helpers.js';
import { browserSkip, launch, newContext, visit } from './browser.js';

describe('an app signs a person in with OpenID Connect, in a browser', { skip: browserSkip }, () => {
  let t: OidcTestApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let rpServer: Server;
  let callback: string;
  const person = newUserBody();

  before(async () => {
    t = await startOidcApp();
    await t.users.register({ ...person, fullName: person.full_name }, null);
    // The relying party's own pages: it only needs to exist, the test reads its URL.
    rpServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>App</title><h1>The app</h1>'));
    await new Promise<void>((resolve) => rpServer.listen(0, '127.0.0.1', resolve));
    const address = rpServer.address() as { port: number };
    callback = `http://127.0.0.1:${address.port}/callback`;
    browser = await launch();
    context = await newContext(browser);
    page = await context.newPage();
  });
  after(async () => {
    await browser?.close();
    rpServer?.close();
    await t?.close();
  });

  async function discover(client: { client_id: string; client_secret: string | null }) {
    return oidc.discovery(new URL(t.issuer), client.client_id, undefined, oidc.ClientSecretBasic(String(client.client_secret)), {
      execute: [oidc.allowInsecureRequests],
    });
  }

  async function start(config: oidc.Configuration, scope: string, extra: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: callback,
      scope,
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...extra,
    });
    return { url: url.href, verifier, state };
  }

  it('signs in through the pages, consents, and the app gets a valid ID token, userinfo, refresh and revocation', async () => {
    const client = await createClient(t, { name: 'Moodle', redirect_uris: [callback], post_logout_redirect_uris: [`${callback}/signed-out`] });
    const config = await discover(client);
    const flow = await start(config, 'openid profile email roles offline_access', { prompt: 'consent' });
    await page.goto(flow.url);
    await page.getByLabel('Email or username').waitFor();
    await visit(page, 'oidc-sign-in');
    await page.getByLabel('Email or username').fill(person.email);
    await page.getByLabel('Password').fill(person.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Allow Moodle to sign you in?' }).waitFor();
    await visit(page, 'oidc-consent');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${callback}?**`);

    const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    const claims = tokens.claims();
    assert.equal(claims?.iss, t.issuer);
    const info = await oidc.fetchUserInfo(config, tokens.access_token, String(claims?.sub));
    assert.equal(info.email, person.email);
    assert.equal(info.preferred_username, person.username);
    assert.equal(info.role, 'student');
    const refreshed = await oidc.refreshTokenGrant(config, String(tokens.refresh_token));
    assert.ok(refreshed.access_token);

    // Consent is remembered: the same app again goes straight back, no page in between.
    const again = await start(config, 'openid profile email roles');
    await page.goto(again.url);
    await page.waitForURL(`${callback}?**`);
    assert.match(page.url(), /code=/);

    // Revoking the refresh token revokes the grant: its access tokens, and the consent with it.
    await oidc.tokenRevocation(config, String(refreshed.refresh_token));
    assert.equal((await oidc.tokenIntrospection(config, refreshed.access_token)).active, false);
  });

  it('signs a second app in without asking for the password (single sign-on), then logs out everywhere', async () => {
    const library = await discover(await createClient(t, { name: 'Library', redirect_uris: [callback], trusted: true, post_logout_redirect_uris: [`${callback}/signed-out`] }));
    const flow = await start(library, 'openid email');
    await page.goto(flow.url);
    await page.waitForURL(`${callback}?**`);
    const tokens = await oidc.authorizationCodeGrant(library, new URL(page.url()), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    assert.ok(tokens.id_token);

    await page.goto(oidc.buildEndSessionUrl(library, { id_token_hint: String(tokens.id_token), post_logout_redirect_uri: `${callback}/signed-out` }).href);
    await page.getByRole('button', { name: 'Yes, sign out' }).click();
    await page.waitForURL(`${callback}/signed-out**`);
    const next = await start(library, 'openid');
    await page.goto(next.url);
    await page.getByLabel('Email or username').waitFor();
  });

  it('lets an admin register an app on /manage/apps and shows its secret once', async () => {
    const admin = await context.browser()?.newContext({ viewport: { width: 1280, height: 860 }, locale: 'en-GB' });
    assert.ok(admin);
    const adminPage = await admin.newPage();
    await adminPage.goto(`${t.origin}/sign-in?next=/manage/apps`);
    await adminPage.getByLabel('Email or username').fill('admin@example.com');
    await adminPage.getByLabel('Password').fill('admin-password-1');
    await adminPage.getByRole('button', { name: 'Sign in', exact: true }).click();
    await adminPage.getByRole('heading', { name: 'Apps' }).waitFor();
    await visit(adminPage, 'oidc-manage-apps');
    await adminPage.getByLabel('Name').fill('Nextcloud');
    await adminPage.getByLabel('Redirect URIs').fill('https://cloud.school.example/apps/user_oidc/code');
    await adminPage.getByRole('button', { name: 'Register' }).click();
    await adminPage.getByRole('heading', { name: 'Nextcloud is registered' }).waitFor();
    const secret = await adminPage.locator('dd code').nth(1).textContent();
    assert.match(String(secret), /^[A-Za-z0-9_-]{43}$/);
    await adminPage.goto(`${t.origin}/manage/apps`);
    assert.ok(!(await adminPage.content()).includes(String(secret)), 'never shown again');
    assert.ok(await adminPage.getByRole('cell', { name: /^app_/ }).first().isVisible());
    await admin.close();
  });
});
