/**
 * Passkey journeys in Chromium with its virtual authenticator (DevTools protocol: WebAuthn.enable,
 * addVirtualAuthenticator with ctap2, internal transport, resident keys and user verification):
 * a passkey made from the account page; signed out, signed in with it alone (no password typed)
 * through the button and through the login field's autofill; the authenticator's counter going
 * up; refused when the authenticator cannot verify the user; gone once removed; and a TOTP user
 * signed in without a code. axe-core checks every page touched, photographed at both widths.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { newUserBody } from '../helpers/app.js';
import { browserSkip, launch, newContext, startWebServer, visit, type WebServer } from './browser.js';
import { addVirtualAuthenticator, withoutPasskeyAutofill } from './virtual-authenticator.js';

type Who = ReturnType<typeof newUserBody> & { id: string };

describe('passkeys in a browser (virtual authenticator)', { skip: browserSkip }, () => {
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

  async function register(): Promise<Who> {
    const who = newUserBody();
    const res = await server.t.app.inject({ method: 'POST', url: '/auth/register', payload: who });
    assert.equal(res.statusCode, 201, res.body);
    return { ...who, id: res.json().id as string };
  }

  async function signInWithPassword(page: Page, who: Who) {
    await page.goto(`${server.base}/sign-in?next=%2Faccount`);
    await page.getByLabel('Email or username').fill(who.email);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
  }

  async function signOut(page: Page) {
    await page.getByRole('button', { name: /Sign out/ }).click();
    await page.waitForURL(/\/\?signed-out=1$/);
  }

  /** Signed in with a password, a passkey added from the account page. */
  async function withPasskey(options: { name?: string; photograph?: boolean; autofill?: boolean } = {}) {
    const who = await register();
    const context = await newContext(browser);
    // Chromium's virtual authenticator answers the sign-in page's autofill request (conditional UI)
    // by itself, at once: journeys of the button play a browser without autofill support.
    if (options.autofill !== true) {
      await withoutPasskeyAutofill(context);
    }
    const page = await context.newPage();
    const authenticator = await addVirtualAuthenticator(context, page);
    await signInWithPassword(page, who);
    await page.getByRole('link', { name: 'Passkeys' }).click();
    await page.getByRole('heading', { name: 'Passkeys', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Add a passkey' }).waitFor();
    if (options.photograph) await visit(page, 'passkeys-empty');
    await page.getByLabel('Name').fill(options.name ?? 'Work laptop');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByText('Your passkey is added').waitFor();
    return { who, context, page, authenticator };
  }

  it('adds a passkey from the account page, then signs in with it alone through the button; the counter goes up', async () => {
    const { who, context, page, authenticator } = await withPasskey({ photograph: true });
    await page.getByRole('heading', { name: 'Work laptop' }).waitFor();
    await visit(page, 'passkeys-list');
    const [made] = await authenticator.credentials();
    assert.ok(made, 'the authenticator holds the new passkey');
    assert.equal(made.isResidentCredential, true, 'a discoverable credential');
    const before = made.signCount;

    await signOut(page);
    await page.goto(`${server.base}/sign-in?next=%2Faccount`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).waitFor();
    await visit(page, 'sign-in-passkey');
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    assert.equal(await page.getByLabel('Password').count(), 0);
    assert.ok((await page.content()).includes(who.username));
    const [used] = await authenticator.credentials();
    assert.ok(used !== undefined && used.signCount > before, `the counter went up: ${before} -> ${used?.signCount}`);
    const stored = await server.t.store.passkeys.listForUser(who.id);
    assert.equal(stored[0]?.counter, used.signCount);
    await context.close();
  });

  it("signs in through the login field's autofill (conditional UI)", async () => {
    const { who, context, page, authenticator } = await withPasskey({ autofill: true });
    await signOut(page);
    const before = (await authenticator.credentials())[0]?.signCount ?? 0;
    // The page starts a conditional request on load (the field's autocomplete="username webauthn");
    // the virtual authenticator picks its passkey as a person would from the autofill list. Nothing is typed.
    await page.goto(`${server.base}/sign-in?next=%2Faccount`);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    assert.ok((await page.content()).includes(who.username));
    assert.ok(((await authenticator.credentials())[0]?.signCount ?? 0) > before);
    const used = await server.t.store.audit.list({ limit: 5, userId: who.id, type: 'passkey.used' });
    assert.equal(used.length, 1);
    await context.close();
  });

  it('refuses a sign-in when the authenticator cannot verify the user', async () => {
    const { who, context, page, authenticator } = await withPasskey();
    await signOut(page);
    await authenticator.setUserVerified(false);
    await page.goto(`${server.base}/sign-in?next=%2Faccount`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.locator('#passkey-status').filter({ hasText: /./ }).waitFor();
    assert.match(page.url(), /\/sign-in/);
    await visit(page, 'sign-in-passkey-refused');
    const me = await page.goto(`${server.base}/account`);
    assert.match(me?.url() ?? '', /\/sign-in\?next=/);
    const succeeded = await server.t.store.audit.list({ limit: 20, userId: who.id, type: 'passkey.used' });
    assert.equal(succeeded.length, 0);
    await context.close();
  });

  it('no longer signs in with a removed passkey', async () => {
    const { context, page } = await withPasskey({ name: 'Old phone' });
    await page.getByRole('link', { name: 'Remove Old phone' }).click();
    await page.getByRole('heading', { name: 'Remove this passkey?' }).waitFor();
    await visit(page, 'passkeys-remove');
    await page.getByRole('button', { name: 'Remove it' }).click();
    await page.getByText('The passkey is removed').waitFor();
    await signOut(page);
    await page.goto(`${server.base}/sign-in?next=%2Faccount`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.locator('#passkey-status').filter({ hasText: /not accepted/ }).waitFor();
    assert.match(page.url(), /\/sign-in/);
    await context.close();
  });

  it('signs a user with TOTP on in with the passkey, without a code', async () => {
    const { who, context, page } = await withPasskey();
    await server.t.store.updateUser(who.id, { totpSecret: 'JBSWY3DPEHPK3PXP', totpEnabled: true });
    await signOut(page);
    await page.goto(`${server.base}/sign-in?next=%2Faccount`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    assert.equal(await page.getByLabel('Code').count(), 0);
    await context.close();
  });

  it("lets an admin see a user's passkeys on their page and remove one after a confirmation", async () => {
    const { who, context: theirs, page: their } = await withPasskey({ name: 'Lost phone' });
    const adminBody = newUserBody();
    await server.t.users.ensureAdmin({ email: adminBody.email, password: adminBody.password, username: adminBody.username });
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(`${server.base}/sign-in`);
    await page.getByLabel('Email or username').fill(adminBody.email);
    await page.getByLabel('Password').fill(adminBody.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: /^Hello/ }).waitFor();
    await page.goto(`${server.base}/manage/users/${who.id}`);
    await page.getByRole('heading', { name: 'Passkeys' }).waitFor();
    await visit(page, 'manage-user-passkeys');
    await page.getByRole('link', { name: 'Remove the passkey Lost phone' }).click();
    await page.getByRole('heading', { name: /Remove the passkey "Lost phone"/ }).waitFor();
    await visit(page, 'manage-user-passkey-remove');
    await page.getByRole('button', { name: 'Remove the passkey' }).click();
    await page.getByText('The passkey is removed').waitFor();
    assert.deepEqual(await server.t.store.passkeys.listForUser(who.id), []);
    // Their browser can no longer sign in with it.
    await signOut(their);
    await their.goto(`${server.base}/sign-in?next=%2Faccount`);
    await their.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await their.locator('#passkey-status').filter({ hasText: /not accepted/ }).waitFor();
    await context.close();
    await theirs.close();
  });
});
