/**
 * Journeys in a real browser through the pages the service's mails link to: confirming an email
 * address (and a link used twice), sending a new confirmation link, and a forgotten password reset
 * from the mailed link, which signs every other browser out. The mails are read from the
 * development outbox, as a newcomer without a mail server would (GET /admin/outbox).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { bearer, newUserBody, signUp, signUpAdmin } from '../helpers/app.js';
import { browserSkip, launch, newContext, startWebServer, visit, type WebServer } from './browser.js';

describe('recovering an account in a browser', { skip: browserSkip }, () => {
  let server: WebServer;
  let browser: Browser;
  let adminToken: string;
  before(async () => {
    server = await startWebServer();
    browser = await launch();
    adminToken = (await signUpAdmin(server.t)).token;
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  /** The link in the newest mail to `email` with this subject (mails leave after the answer: bounded polling). */
  async function mailedLink(email: string, subject: string, since: Date): Promise<string> {
    for (let attempt = 0; attempt < 500; attempt += 1) {
      const res = await server.t.app.inject({ url: '/admin/outbox', headers: bearer(adminToken) });
      assert.equal(res.statusCode, 200);
      const messages: { to: string; subject: string; text: string; sent_at: string }[] = res.json().messages;
      const mail = messages.find((m) => m.to === email && m.subject === subject && Date.parse(m.sent_at) >= since.getTime());
      if (mail !== undefined) {
        // The link a newcomer clicks in the outbox: this server's own address.
        const link = new RegExp(`^${server.base}/[a-z-]+\\?token=[A-Za-z0-9_-]{43}$`, 'm').exec(mail.text)?.[0];
        assert.ok(link, mail.text);
        return link;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`no "${subject}" mail to ${email}`);
  }

  async function signIn(page: Page, login: string, password: string) {
    await page.getByLabel('Email or username').fill(login);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  it('confirms the address from the mailed link; the same link again says it was used and offers a way on', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const who = newUserBody();
    const since = new Date();
    await page.goto(`${server.base}/sign-up`);
    await page.getByLabel('Username').fill(who.username);
    await page.getByLabel('Email').fill(who.email);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();

    const link = await mailedLink(who.email, 'Confirm your email address', since);
    await page.goto(link);
    await page.getByRole('heading', { name: 'Your email address is confirmed' }).waitFor();
    assert.ok(await page.getByText(`${who.email} is confirmed`).isVisible());
    await visit(page, 'verify-email-done');

    const again = await page.goto(link);
    assert.equal(again?.status(), 400);
    await page.getByRole('heading', { name: 'This link was used already or has expired' }).waitFor();
    await visit(page, 'verify-email-used');

    // Signed out, the offer is to sign in first, coming back here: nothing more to do, it says.
    await page.getByRole('main').getByRole('link', { name: 'Sign in' }).click();
    await signIn(page, who.email, who.password);
    await page.waitForURL(`${server.base}/verify-email`);
    await page.getByText('there is nothing more to do').waitFor();
    await visit(page, 'verify-email-confirmed');
    await context.close();
  });

  it('sends a signed-in user a new confirmation link from the page', async () => {
    const user = await signUp(server.t.app);
    const context = await newContext(browser, 'phone');
    const page = await context.newPage();
    await page.goto(`${server.base}/sign-in?next=${encodeURIComponent('/verify-email')}`);
    await signIn(page, user.body.email, user.body.password);
    await page.getByRole('heading', { name: 'Confirm your email address' }).waitFor();
    await visit(page, 'verify-email-resend');

    const since = new Date();
    await page.getByRole('button', { name: 'Send a new link' }).click();
    await page.getByRole('status').getByText('We sent a new link').waitFor();
    await visit(page, 'verify-email-sent');

    await page.goto(await mailedLink(user.body.email, 'Confirm your email address', since));
    await page.getByRole('heading', { name: 'Your email address is confirmed' }).waitFor();
    assert.ok(await page.getByRole('link', { name: 'Go to your account' }).isVisible());
    await context.close();
  });

  it('resets a forgotten password from the mailed link, which signs every other browser out', async () => {
    const user = await signUp(server.t.app);
    const newPassword = 'a new and longer passphrase';

    // Another browser signed in before the reset.
    const other: BrowserContext = await newContext(browser);
    const otherPage = await other.newPage();
    await otherPage.goto(`${server.base}/sign-in`);
    await signIn(otherPage, user.body.email, user.body.password);
    await otherPage.getByRole('heading', { name: /^Hello/ }).waitFor();

    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(`${server.base}/sign-in`);
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.getByRole('heading', { name: 'Forgot your password?' }).waitFor();
    await visit(page, 'forgot-password');
    const since = new Date();
    await page.getByLabel('Email').fill(user.body.email);
    await page.getByRole('button', { name: 'Send the link' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    assert.ok(await page.getByText('If an account has the address').isVisible());
    await visit(page, 'forgot-password-sent');

    const link = await mailedLink(user.body.email, 'Reset your password', since);
    await page.goto(link);
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    assert.equal(page.url(), `${server.base}/reset-password`, 'the token left the address bar');
    await visit(page, 'reset-password');

    // A password the rules refuse: the field says why, and the link still works.
    await page.getByLabel('New password').fill('short');
    await page.getByRole('button', { name: 'Change the password' }).click();
    await page.getByRole('heading', { name: 'There is a problem' }).waitFor();
    assert.equal(await page.getByLabel('New password').getAttribute('aria-invalid'), 'true');
    await visit(page, 'reset-password-errors');

    await page.getByLabel('New password').fill(newPassword);
    await page.getByRole('button', { name: 'Change the password' }).click();
    await page.getByText('every device that was signed in to your account is signed out').waitFor();
    assert.equal(new URL(page.url()).pathname, '/sign-in');
    await visit(page, 'sign-in-after-reset');

    // The browser signed in before is signed out.
    await otherPage.reload();
    await otherPage.getByRole('heading', { name: 'Welcome' }).waitFor();
    await other.close();

    // The old password no longer works; the new one does.
    await signIn(page, user.body.email, user.body.password);
    await page.getByText('The email, username or password is not right').waitFor();
    await signIn(page, user.body.email, newPassword);
    await page.getByRole('heading', { name: /^Hello/ }).waitFor();

    // The link again: used, says so, and offers a new one with the address filled in.
    const again = await page.goto(link);
    assert.equal(again?.status(), 400);
    await page.getByRole('heading', { name: 'This link was used already or has expired' }).waitFor();
    assert.equal(await page.getByLabel('Email').inputValue(), user.body.email);
    await visit(page, 'reset-password-used');
    await context.close();
  });
});
