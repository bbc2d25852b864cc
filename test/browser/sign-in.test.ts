/**
 * Journeys in a real browser: signing up, in (by keyboard alone) and out; a stolen cookie after
 * sign-out; a form posted from another site; the page for an unknown address. Every page is checked by axe and photographed.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { newUserBody } from '../helpers/app.js';
import { browserSkip, launch, newContext, startWebServer, visit, type WebServer } from './browser.js';

describe('signing up, in and out in a browser', { skip: browserSkip }, () => {
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

  it('signs up, then signs in with the keyboard alone, then out', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(`${server.base}/`);
    await visit(page, 'home');

    const who = newUserBody();
    await page.getByRole('link', { name: 'Create an account' }).first().click();
    await visit(page, 'sign-up');
    await page.getByLabel('Full name').fill(who.full_name);
    await page.getByLabel('Username').fill(who.username);
    await page.getByLabel('Email').fill(who.email);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    await visit(page, 'sign-up-done');

    // The keyboard alone: the sign-in page puts the focus in its first field.
    await page.goto(`${server.base}/sign-in`);
    await visit(page, 'sign-in');
    assert.equal(await page.evaluate('document.activeElement && document.activeElement.id'), 'f-login');
    await page.keyboard.type(who.email);
    await page.keyboard.press('Tab');
    // Where the keyboard is shows: a ring of at least 2 px around the focused field (WCAG 2.4.7).
    const ring = (await page.evaluate(
      'document.activeElement && (({ outlineStyle, outlineWidth }) => ({ id: document.activeElement.id, outlineStyle, outlineWidth }))(getComputedStyle(document.activeElement))',
    )) as { id: string; outlineStyle: string; outlineWidth: string };
    assert.equal(ring.id, 'f-password');
    assert.notEqual(ring.outlineStyle, 'none');
    assert.ok(Number.parseFloat(ring.outlineWidth) >= 2, `focus ring ${ring.outlineWidth}`);
    await page.keyboard.type(who.password);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: `Hello, ${who.full_name}` }).waitFor();
    await visit(page, 'home-signed-in');

    // The session is an HttpOnly cookie: no script on the page can read it.
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'sid');
    assert.ok(session, 'a session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');
    assert.equal(await page.evaluate('document.cookie'), '', 'nothing a script can read');

    await page.getByRole('button', { name: /Sign out/ }).click();
    await page.getByText('You are signed out.').waitFor();
    await visit(page, 'signed-out');

    // The cookie taken before signing out opens nothing afterwards.
    const thief = await newContext(browser);
    await thief.addCookies([session]);
    const stolen = await thief.newPage();
    await stolen.goto(`${server.base}/`);
    assert.ok(await stolen.getByRole('heading', { name: 'Welcome' }).isVisible(), 'signed out for the thief too');
    await thief.close();
    await context.close();
  });

  it('shows what is wrong, tied to its field, and locks after repeated wrong passwords', async () => {
    const context = await newContext(browser, 'phone');
    const page = await context.newPage();
    await page.goto(`${server.base}/sign-in`);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'There is a problem' }).waitFor();
    assert.match(await page.title(), /^Error: Sign in/);
    assert.equal(await page.getByLabel('Email or username').getAttribute('aria-invalid'), 'true');
    await visit(page, 'sign-in-errors');

    const who = newUserBody();
    for (let i = 0; i < 5; i++) {
      await page.getByLabel('Email or username').fill(who.email);
      await page.getByLabel('Password').fill('not the password');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByText('The email, username or password is not right').waitFor();
    }
    await page.getByLabel('Password').fill('not the password');
    const [locked] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/sign-in') && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Sign in', exact: true }).click(),
    ]);
    await page.getByText(/Too many attempts for this account/).waitFor();
    assert.equal(locked.status(), 429);
    await visit(page, 'sign-in-locked');
    await context.close();
  });

  it('answers an unknown address with a page in the same look, which leads back', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const response = await page.goto(`${server.base}/no/such/page`);
    assert.equal(response?.status(), 404);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await visit(page, 'not-found');
    await page.getByRole('link', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await context.close();
  });

  it('refuses a form posted from another site (CSRF)', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const who = newUserBody();
    await page.goto(`${server.base}/sign-up`);
    await page.getByLabel('Username').fill(who.username);
    await page.getByLabel('Email').fill(who.email);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    await page.goto(`${server.base}/sign-in`);
    await page.getByLabel('Email or username').fill(who.username);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: /^Hello/ }).waitFor();

    // Another site's page with a form aimed at this service (127.0.0.1 is another site than localhost).
    const attacker: Server = createServer((_request, response) => {
      response.setHeader('content-type', 'text/html');
      response.end(
        `<!doctype html><html lang="en"><title>Win a prize</title><form method="post" action="${server.base}/sign-out">` +
          '<input type="hidden" name="_csrf" value="guessed"><button>Claim</button></form></html>',
      );
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    try {
      await page.goto(`http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`);
      const [response] = await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Claim' }).click()]);
      assert.equal(response?.status(), 403);
      await page.getByRole('heading', { name: 'This form cannot be sent' }).waitFor();
      await visit(page, 'csrf-refused');
      await page.goto(`${server.base}/`);
      assert.ok(await page.getByRole('heading', { name: /^Hello/ }).isVisible(), 'still signed in');
    } finally {
      attacker.close();
      await context.close();
    }
  });
});
