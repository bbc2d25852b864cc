/**
 * Journeys through the account pages in a real browser: two-factor set up by scanning the page's
 * own QR code (a screenshot of it, decoded here) and used to sign in; recovery codes copied and
 * downloaded; the password changed while another browser is signed in; sessions signed out one at
 * a time and everywhere; the email changed; an old sign-in asked for the password again. Every page
 * is checked by axe and photographed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP, URI } from 'otpauth';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { hashToken } from '../../src/auth/sessions/session-service.js';
import { newId } from '../../src/users/ids.js';
import { bearer, newUserBody } from '../helpers/app.js';
import { decodePng } from '../helpers/qr-decode.js';
import { browserSkip, launch, newContext, startWebServer, VIEWPORTS, visit, type WebServer } from './browser.js';

type Who = ReturnType<typeof newUserBody>;

/** The code an authenticator shows `steps` time steps from now (the service takes one step either way). */
const codeAt = (secret: string, steps = 0) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() + steps * 30_000 });

/** A phone's browser, so that the list of sessions can tell the two apart. */
const PHONE_UA = 'Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0';

describe('the account pages in a browser', { skip: browserSkip }, () => {
  let server: WebServer;
  let browser: Browser;
  before(async () => {
    server = await startWebServer();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  async function register(): Promise<Who & { id: string }> {
    const who = newUserBody();
    const res = await server.t.app.inject({ method: 'POST', url: '/auth/register', payload: who });
    assert.equal(res.statusCode, 201, res.body);
    return { ...who, id: res.json().id as string };
  }

  async function signIn(page: Page, who: Who, next = '/account') {
    await page.goto(`${server.base}/sign-in?next=${encodeURIComponent(next)}`);
    await page.getByLabel('Email or username').fill(who.email);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  async function signedInContext(who: Who, options: { userAgent?: string } = {}): Promise<{ context: BrowserContext; page: Page }> {
    const context =
      options.userAgent === undefined
        ? await newContext(browser)
        : await browser.newContext({ viewport: VIEWPORTS.phone, locale: 'en-GB', userAgent: options.userAgent });
    const page = await context.newPage();
    await signIn(page, who);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    return { context, page };
  }

  /** Whether the browser is signed out: any account page sends it to the sign-in page. */
  async function assertSignedOut(page: Page) {
    await page.goto(`${server.base}/account`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.match(page.url(), /\/sign-in\?next=%2Faccount$/);
  }

  it("sets up two-factor authentication by scanning the page's own QR code, then signs in with it", async () => {
    const context = await newContext(browser);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
    const page = await context.newPage();
    const who = newUserBody();
    await page.goto(`${server.base}/sign-up`);
    await page.getByLabel('Full name').fill(who.full_name);
    await page.getByLabel('Username').fill(who.username);
    await page.getByLabel('Email').fill(who.email);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    await signIn(page, who);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    await visit(page, 'account');

    await page.getByRole('link', { name: 'Two-factor authentication' }).click();
    await page.getByRole('heading', { name: 'Two-factor authentication' }).waitFor();
    await visit(page, 'account-2fa-off');
    await page.getByRole('link', { name: 'Set it up' }).click();
    await page.getByRole('heading', { name: 'Set up two-factor authentication' }).waitFor();
    await visit(page, 'account-2fa-password');
    await page.getByLabel('Your password').fill(who.password);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Scan the code with your app' }).waitFor();
    await visit(page, 'account-2fa-scan');

    // What a phone would do: read the QR code as drawn on the screen.
    const qr = page.getByRole('img', { name: 'QR code for your authenticator app' });
    const scanned = decodePng(await qr.screenshot()).text;
    const enrolment = URI.parse(scanned);
    assert.ok(enrolment instanceof TOTP, scanned);
    assert.equal(enrolment.label, who.email);
    const secret = enrolment.secret.base32;
    assert.equal((await page.locator('#totp-key').innerText()).replace(/\s/g, ''), secret, 'the key to type by hand is the same secret');
    assert.equal(await page.getByRole('link', { name: 'Open in an authenticator app on this device' }).getAttribute('href'), scanned);
    assert.ok(await page.getByRole('button', { name: 'Copy the key' }).isVisible(), 'the copy button appears with script');

    await page.getByLabel('Code from your app').fill(enrolment.generate());
    await page.getByRole('button', { name: 'Turn it on' }).click();
    await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
    await visit(page, 'account-2fa-codes');
    const codes = (await page.locator('#recovery-codes li').allInnerTexts()).map((c) => c.trim());
    assert.equal(codes.length, 10);

    await page.getByRole('button', { name: 'Copy the codes' }).click();
    await page.getByText('Copied.').waitFor();
    assert.deepEqual((await page.evaluate('navigator.clipboard.readText()') as string).split(/\s+/).filter(Boolean), codes);

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /Download them/ }).click()]);
    assert.match(download.suggestedFilename(), /recovery-codes\.txt$/);
    const saved = await readFile(await download.path(), 'utf8');
    for (const code of codes) assert.ok(saved.includes(code), `${code} in the file`);

    await page.getByRole('link', { name: 'I have saved them' }).click();
    await page.getByText('10 unused recovery codes').waitFor();
    await visit(page, 'account-2fa-on');
    const shown = await page.content();
    for (const code of codes) assert.ok(!shown.includes(code), 'the codes are never shown again');

    // Out, and in again with the password and a code from the "phone".
    await page.getByRole('button', { name: /Sign out/ }).click();
    await page.getByText('You are signed out.').waitFor();
    await signIn(page, who, '/account/sessions');
    await page.getByRole('heading', { name: 'Enter your code' }).waitFor();
    // The step the confirmation used is spent; the next one is within the window and not yet used.
    await page.getByLabel('Code').fill(codeAt(secret, 1));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Where you are signed in' }).waitFor();
    await visit(page, 'account-sessions');
    await page.getByText('This browser').waitFor();
    await context.close();
  });

  it('changes the password: another browser signed in to the account is signed out at once', async () => {
    const who = await register();
    const mine = await signedInContext(who);
    const other = await signedInContext(who, { userAgent: PHONE_UA });

    await mine.page.getByRole('link', { name: 'Change your password' }).click();
    await mine.page.getByRole('heading', { name: 'Change your password' }).waitFor();
    await visit(mine.page, 'account-password');
    await mine.page.getByRole('button', { name: 'Change the password' }).click();
    await mine.page.getByRole('heading', { name: 'There is a problem' }).waitFor();
    assert.match(await mine.page.title(), /^Error: Change your password/);
    await visit(mine.page, 'account-password-errors');
    await mine.page.getByLabel('Current password').fill(who.password);
    await mine.page.getByLabel('New password').fill('a new passphrase of mine');
    await mine.page.getByRole('button', { name: 'Change the password' }).click();
    await mine.page.getByText('Your password is changed.').waitFor();
    await visit(mine.page, 'account-password-changed');

    await assertSignedOut(other.page);
    await mine.page.goto(`${server.base}/account`);
    await mine.page.getByRole('heading', { name: 'Your account' }).waitFor();
    // The new password is the one that works now.
    await signIn(other.page, { ...who, password: 'a new passphrase of mine' });
    await other.page.getByRole('heading', { name: 'Your account' }).waitFor();
    await mine.context.close();
    await other.context.close();
  });

  it('signs another browser out from the list of sessions, at once', async () => {
    const who = await register();
    const mine = await signedInContext(who);
    const phone = await signedInContext(who, { userAgent: PHONE_UA });

    await mine.page.getByRole('link', { name: 'Where you are signed in' }).click();
    await mine.page.getByRole('heading', { name: 'Firefox on Android' }).waitFor();
    await mine.page.getByRole('link', { name: /^Sign out this device/ }).click();
    await mine.page.getByRole('heading', { name: 'Sign out this device?' }).waitFor();
    await mine.page.getByRole('heading', { name: 'Firefox on Android' }).waitFor();
    await visit(mine.page, 'account-session-end');
    await mine.page.getByRole('button', { name: 'Sign it out' }).click();
    await mine.page.getByText('That device is signed out.').waitFor();
    await visit(mine.page, 'account-session-ended');
    assert.equal(await mine.page.getByRole('heading', { name: 'Firefox on Android' }).count(), 0);

    await assertSignedOut(phone.page);
    await mine.page.goto(`${server.base}/account`);
    await mine.page.getByRole('heading', { name: 'Your account' }).waitFor();
    await mine.context.close();
    await phone.context.close();
  });

  it('signs out everywhere, this browser too, and lands on the sign-in page with a notice', async () => {
    const who = await register();
    const mine = await signedInContext(who);
    const phone = await signedInContext(who, { userAgent: PHONE_UA });
    const api = await server.t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: who.email, password: who.password } });
    const apiToken = api.json().access_token as string;

    await mine.page.goto(`${server.base}/account/sessions`);
    await mine.page.getByRole('heading', { name: 'Where you are signed in' }).waitFor();
    assert.equal(await mine.page.locator('ul.sessions > li').count(), 3, 'two browsers and an app');
    await mine.page.getByRole('link', { name: 'Sign out everywhere' }).click();
    await mine.page.getByRole('heading', { name: 'Sign out everywhere?' }).waitFor();
    await visit(mine.page, 'account-sign-out-everywhere');
    await mine.page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await mine.page.getByText('You are signed out everywhere').waitFor();
    assert.match(mine.page.url(), /\/sign-in\?signed-out-everywhere=1$/);
    await visit(mine.page, 'signed-out-everywhere');

    await assertSignedOut(mine.page);
    await assertSignedOut(phone.page);
    assert.equal((await server.t.app.inject({ url: '/users/me', headers: bearer(apiToken) })).statusCode, 401, 'the app is signed out too');
    await mine.context.close();
    await phone.context.close();
  });

  it('asks for the password again when the sign-in is a few minutes old, then goes on', async () => {
    const who = await register();
    // A session row that started an hour ago, made in the store: sessions keep real time, so an old
    // sign-in is made rather than waited for.
    const token = randomBytes(32).toString('base64url');
    const hourAgo = new Date(Date.now() - 3_600_000);
    await server.t.store.sessions.create(
      {
        id: newId(hourAgo),
        userId: who.id,
        kind: 'browser',
        createdAt: hourAgo,
        lastUsedAt: hourAgo,
        expiresAt: new Date(Date.now() + 3_600_000),
        revokedAt: null,
        userAgent: 'the journey',
        ip: '127.0.0.1',
      },
      hashToken(token),
    );
    const context = await newContext(browser);
    await context.addCookies([{ name: 'sid', value: token, url: server.base, httpOnly: true, sameSite: 'Lax' }]);
    const page = await context.newPage();
    await page.goto(`${server.base}/account`);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    await page.getByRole('link', { name: 'Change your email' }).click();
    await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
    assert.match(page.url(), /\/account\/confirm\?next=%2Faccount%2Femail$/);
    await visit(page, 'account-confirm');
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Change your email' }).waitFor();
    assert.equal(await server.t.store.sessions.listActive(who.id, new Date()).then((s) => s.some((x) => x.createdAt < new Date(Date.now() - 60_000))), false, 'the old session was replaced');
    await context.close();
  });

  it('changes the profile and the email, which must then be confirmed again (a link sent again on request)', async () => {
    const who = await register();
    const { context, page } = await signedInContext(who);
    await page.getByLabel('Full name').fill('Alice Pleasance Liddell');
    await page.getByRole('button', { name: 'Save the profile' }).click();
    await page.getByText('Your profile is saved.').waitFor();
    assert.equal(await page.getByLabel('Full name').inputValue(), 'Alice Pleasance Liddell');

    await page.getByLabel('Username').fill('x');
    await page.getByRole('button', { name: 'Save the profile' }).click();
    await page.getByRole('heading', { name: 'There is a problem' }).waitFor();
    await visit(page, 'account-profile-errors');

    await page.goto(`${server.base}/account`);
    await page.getByRole('link', { name: 'Change your email' }).click();
    await page.getByRole('heading', { name: 'Change your email' }).waitFor();
    await visit(page, 'account-email');
    const next = newUserBody().email;
    await page.getByLabel('New email address').fill(next);
    await page.getByLabel('Your password').fill(who.password);
    await page.getByRole('button', { name: 'Change the email' }).click();
    await page.getByText(`Your email is now ${next}`).waitFor();
    await page.getByText('Not confirmed yet').waitFor();
    await visit(page, 'account-email-changed');

    await page.getByRole('button', { name: 'Send the link again' }).click();
    await page.getByText('We sent a new link').waitFor();
    const stored = await server.t.store.findUserById(who.id);
    assert.equal(stored?.email, next);
    assert.equal(stored?.emailVerified, false);
    assert.equal(stored?.fullName, 'Alice Pleasance Liddell');
    await context.close();
  });

  it('gets new recovery codes and turns two-factor authentication off', async () => {
    const who = await register();
    // On already, through the API; the browser signs in with a recovery code.
    const apiLogin = await server.t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: who.email, password: who.password } });
    const token = apiLogin.json().access_token as string;
    const setup = await server.t.app.inject({ method: 'POST', url: '/auth/2fa/totp/setup', headers: bearer(token), payload: { password: who.password } });
    const secret = setup.json().secret as string;
    const confirmed = await server.t.app.inject({ method: 'POST', url: '/auth/2fa/totp/confirm', headers: bearer(token), payload: { code: codeAt(secret) } });
    const recovery = confirmed.json().recovery_codes as string[];

    const context = await newContext(browser, 'phone');
    const page = await context.newPage();
    await signIn(page, who, '/account/2fa');
    await page.getByLabel('Code').fill(recovery[0] as string);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByText('9 unused recovery codes').waitFor();

    await page.getByRole('link', { name: 'Get new recovery codes' }).click();
    await page.getByRole('heading', { name: 'Get new recovery codes' }).waitFor();
    await visit(page, 'account-2fa-regenerate');
    await page.getByLabel('Code from your app').fill(codeAt(secret, 1));
    await page.getByRole('button', { name: 'Get new codes' }).click();
    await page.getByRole('heading', { name: 'Your new recovery codes' }).waitFor();
    await visit(page, 'account-2fa-new-codes');
    const fresh = (await page.locator('#recovery-codes li').allInnerTexts()).map((c) => c.trim());
    assert.equal(fresh.length, 10);
    assert.ok(!fresh.includes(recovery[1] as string));

    await page.getByRole('link', { name: 'I have saved them' }).click();
    await page.getByRole('link', { name: 'Turn off two-factor authentication' }).click();
    await page.getByRole('heading', { name: 'Turn off two-factor authentication?' }).waitFor();
    await visit(page, 'account-2fa-disable');
    await page.getByLabel('Your password').fill(who.password);
    // An old recovery code no longer works; a new one does.
    await page.getByLabel('Code from your app, or a recovery code').fill(recovery[1] as string);
    await page.getByRole('button', { name: 'Turn it off' }).click();
    await page.getByText('That code is not right').first().waitFor();
    await visit(page, 'account-2fa-disable-errors');
    await page.getByLabel('Your password').fill(who.password);
    await page.getByLabel('Code from your app, or a recovery code').fill(fresh[0] as string);
    await page.getByRole('button', { name: 'Turn it off' }).click();
    await page.getByText('Two-factor authentication is off.').waitFor();
    assert.equal((await server.t.store.findUserById(who.id))?.totpEnabled, false);
    await context.close();
  });
});
