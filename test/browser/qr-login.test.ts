/**
 * Sign in by QR in real browsers, two of them: a TV (a shared screen, nobody signed in) shows the
 * code; a phone reads it from the TV's screen (a screenshot of the QR, decoded independently with
 * jsQR), signs in if it must, sees which device asks, and approves or denies. The TV's page
 * finishes by itself. Every page is checked by axe and photographed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { bearer, newUserBody } from '../helpers/app.js';
import { decodePng } from '../helpers/qr-decode.js';
import { browserSkip, launch, newContext, startWebServer, VIEWPORTS, visit, type WebServer } from './browser.js';

const TV_AGENT = 'Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 LivingRoomTV/1.0';

describe('sign in by QR across two browsers', { skip: browserSkip }, () => {
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

  /** A screen in the living room: a laptop-wide window with a TV's user agent. */
  const tvContext = () => browser.newContext({ viewport: VIEWPORTS.desktop, locale: 'en-GB', userAgent: TV_AGENT });

  async function newUser() {
    const who = newUserBody();
    const res = await server.t.app.inject({ method: 'POST', url: '/auth/register', payload: who });
    assert.equal(res.statusCode, 201, res.body);
    return who;
  }

  /** What the phone's camera reads off the TV: the QR element's pixels, decoded. */
  async function scan(tv: Page): Promise<string> {
    const png = await tv.getByRole('img', { name: 'QR code to scan with your phone' }).screenshot();
    return decodePng(png).text;
  }

  async function signIn(page: Page, who: { email: string; password: string }) {
    await page.getByLabel('Email or username').fill(who.email);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  async function phoneSignedIn(who: { email: string; password: string }): Promise<{ context: BrowserContext; page: Page }> {
    const context = await newContext(browser, 'phone');
    const page = await context.newPage();
    await page.goto(`${server.base}/sign-in`);
    await signIn(page, who);
    await page.getByRole('heading', { name: /^Hello/ }).waitFor();
    return { context, page };
  }

  it('approves on the phone; the TV finishes by itself, signed in, and is listed among the sessions', async () => {
    const who = await newUser();
    const tvContextA = await tvContext();
    const tv = await tvContextA.newPage();
    await tv.goto(`${server.base}/sign-in/qr`);
    await tv.getByRole('heading', { name: 'Sign in with your phone' }).waitFor();
    await visit(tv, 'qr-login-tv');
    const scanned = await scan(tv);
    assert.match(scanned, new RegExp(`^${server.base}/qr-login\\?id=[A-Za-z0-9_-]{22}$`));
    assert.equal(await tv.evaluate('document.cookie'), '', 'the secret is out of reach of any script');

    // The phone is not signed in yet: the link goes through the sign-in page and back.
    const phoneContext = await newContext(browser, 'phone');
    const phone = await phoneContext.newPage();
    await phone.goto(scanned);
    await phone.getByRole('heading', { name: 'Sign in' }).waitFor();
    await signIn(phone, who);
    await phone.getByRole('heading', { name: 'Sign in on another screen?' }).waitFor();
    assert.equal(new URL(phone.url()).pathname + new URL(phone.url()).search, new URL(scanned).pathname + new URL(scanned).search);
    await phone.getByText(TV_AGENT).waitFor();
    await phone.getByText('Chrome on a smart TV').waitFor();
    await phone.getByText(/Only approve a screen you are standing at/).waitFor();
    await visit(phone, 'qr-login-approve');

    await phone.getByRole('button', { name: 'Approve' }).click();
    await phone.getByRole('heading', { name: 'Approved' }).waitFor();
    await visit(phone, 'qr-login-approved');

    // Nobody touches the TV: it notices the approval and lands signed in on the start page.
    await tv.getByRole('heading', { name: `Hello, ${who.full_name}` }).waitFor();
    assert.equal(new URL(tv.url()).pathname, '/');
    await visit(tv, 'qr-login-tv-signed-in');
    const cookies = await tvContextA.cookies();
    assert.ok(cookies.some((c) => c.name === 'sid' && c.httpOnly), 'a browser session');
    assert.ok(!cookies.some((c) => c.name === 'qrl'), 'the request is forgotten');

    // The user's list of sessions (the API's) shows the TV.
    const login = await server.t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: who.email, password: who.password } });
    const listed = await server.t.app.inject({ url: '/auth/sessions', headers: bearer(login.json().access_token) });
    const tvSessions = (listed.json() as { user_agent: string | null; ip: string | null }[]).filter((s) => s.user_agent === TV_AGENT);
    assert.equal(tvSessions.length, 1, listed.body);

    await phoneContext.close();
    await tvContextA.close();
  });

  it('denies on the phone; the TV says so by itself and offers a new code', async () => {
    const who = await newUser();
    const context = await tvContext();
    const tv = await context.newPage();
    await tv.goto(`${server.base}/sign-in/qr`);
    const scanned = await scan(tv);

    const phone = await phoneSignedIn(who);
    await phone.page.goto(scanned);
    await phone.page.getByText(TV_AGENT).waitFor();
    await phone.page.getByRole('button', { name: 'Deny' }).click();
    await phone.page.getByRole('heading', { name: 'Denied' }).waitFor();
    await visit(phone.page, 'qr-login-denied');

    await tv.getByRole('heading', { name: 'Sign-in denied' }).waitFor();
    await tv.getByText('The phone denied this sign-in.').waitFor();
    await visit(tv, 'qr-login-tv-denied');
    assert.ok(!(await context.cookies()).some((c) => c.name === 'sid'), 'not signed in');

    // Scanning the same code again: a clear page, not an error.
    await phone.page.goto(scanned);
    await phone.page.getByRole('heading', { name: 'This sign-in request is not there' }).waitFor();
    await visit(phone.page, 'qr-login-gone');

    await tv.getByRole('link', { name: 'Show a new code' }).click();
    await tv.getByRole('heading', { name: 'Sign in with your phone' }).waitFor();
    assert.notEqual(await scan(tv), scanned, 'a new code');
    await phone.context.close();
    await context.close();
  });

  it('works without its script: the TV continues by its button once the phone approved', async () => {
    const who = await newUser();
    // The island never arrives (blocked, as by an extension or a broken network); axe still runs.
    const context = await tvContext();
    await context.route(/\/assets\/qr-login-wait-[\w-]+\.js$/, (route) => route.abort());
    const tv = await context.newPage();
    await tv.goto(`${server.base}/sign-in/qr`);
    const scanned = await scan(tv);

    await tv.getByRole('button', { name: 'I approved it on my phone — continue' }).click();
    await tv.getByText('Not approved yet').waitFor();
    await visit(tv, 'qr-login-tv-not-yet');
    assert.equal(await scan(tv), scanned, 'the same code');

    const phone = await phoneSignedIn(who);
    await phone.page.goto(scanned);
    await phone.page.getByRole('button', { name: 'Approve' }).click();
    await phone.page.getByRole('heading', { name: 'Approved' }).waitFor();

    await tv.getByRole('button', { name: 'I approved it on my phone — continue' }).click();
    await tv.getByRole('heading', { name: `Hello, ${who.full_name}` }).waitFor();
    await phone.context.close();
    await context.close();
  });
});
