/**
 * An admin's journeys through /manage in a real browser: finding users (search, role filter,
 * pages), creating a teacher, changing a student's role while the student is signed in elsewhere
 * (their next page shows them signed out), disabling and enabling, resetting 2FA, deleting through
 * the confirmation page, the audit events, the development outbox; a non-admin's 403 page; an
 * admin demoting themselves. Every page is checked by axe and photographed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { User } from '../../src/store/store.js';
import { newId } from '../../src/users/ids.js';
import { newUserBody } from '../helpers/app.js';
import { browserSkip, launch, newContext, startWebServer, visit, type WebServer } from './browser.js';

/** More users with one prefix than a page holds (25): two pages. */
const SEEDED = 32;
const PREFIX = 'pager_';

async function signIn(page: Page, base: string, login: string, password: string) {
  await page.goto(`${base}/sign-in`);
  await page.getByLabel('Email or username').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { name: /^Hello/ }).waitFor();
}

describe('an admin manages users in a browser', { skip: browserSkip }, () => {
  let server: WebServer;
  let browser: Browser;
  let adminContext: BrowserContext;
  let page: Page;
  const adminBody = newUserBody();
  const studentBody = newUserBody();
  let student: User;

  before(async () => {
    server = await startWebServer();
    browser = await launch();
    const { t } = server;
    await t.users.ensureAdmin({ email: adminBody.email, password: adminBody.password, username: adminBody.username });
    student = await t.users.register({ ...studentBody, fullName: studentBody.full_name }, null);
    // Many users, quickly: straight into the store (their password is nobody's concern here).
    for (let i = 0; i < SEEDED; i++) {
      const tag = String(i).padStart(2, '0');
      await t.store.insertUser({
        id: newId(),
        username: `${PREFIX}${tag}`,
        email: `${PREFIX}${tag}@example.com`,
        passwordHash: student.passwordHash,
        fullName: `Pager ${tag}`,
        role: i % 4 === 0 ? 'teacher' : 'student',
        createdAt: new Date(),
      });
    }
    adminContext = await newContext(browser);
    page = await adminContext.newPage();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('signs in as an admin, searches, filters by role and pages through the users', async () => {
    await signIn(page, server.base, adminBody.email, adminBody.password);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Manage' }).click();
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    await visit(page, 'manage-users');

    await page.getByLabel('Email or username starts with').fill(PREFIX);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText(`Users whose email or username starts with “${PREFIX}”`).waitFor();
    const rows = page.locator('table tbody tr');
    assert.equal(await rows.count(), 25);
    await page.getByRole('link', { name: 'Next page' }).click();
    await page.getByRole('link', { name: 'First page' }).waitFor();
    assert.equal(await rows.count(), SEEDED - 25);
    assert.equal(await page.getByRole('link', { name: 'Next page' }).count(), 0, 'the last page');
    await visit(page, 'manage-users-page-2');
    await page.getByRole('link', { name: 'First page' }).click();
    await page.getByRole('link', { name: 'Next page' }).waitFor();

    await page.getByLabel('Role').selectOption('teacher');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText(`Teachers whose email or username starts with “${PREFIX}”`).waitFor();
    assert.equal(await rows.count(), SEEDED / 4);
    assert.deepEqual([...new Set(await page.locator('table tbody td:nth-of-type(3)').allTextContents())], ['Teacher']);

    // A forged page link: what is wrong, in words, on the same page.
    await page.goto(`${server.base}/manage/users?cursor=not-a-cursor`);
    await page.getByRole('heading', { name: 'There is a problem' }).waitFor();
    await visit(page, 'manage-users-error');
  });

  it('creates a teacher, after showing what was missing', async () => {
    await page.goto(`${server.base}/manage/users`);
    await page.getByRole('link', { name: 'Create a user' }).click();
    await page.getByRole('heading', { name: 'Create a user' }).waitFor();
    await visit(page, 'manage-user-new');
    await page.getByRole('button', { name: 'Create the user' }).click();
    await page.getByRole('heading', { name: 'There is a problem' }).waitFor();
    assert.match(await page.title(), /^Error: Create a user/);
    assert.equal(await page.getByLabel('Username').getAttribute('aria-invalid'), 'true');
    await visit(page, 'manage-user-new-errors');

    const teacher = newUserBody();
    await page.getByLabel('Full name').fill(teacher.full_name);
    await page.getByLabel('Username').fill(teacher.username);
    await page.getByLabel('Email').fill(teacher.email);
    await page.getByLabel('First password').fill(teacher.password);
    await page.getByLabel('Role').selectOption('teacher');
    await page.getByRole('button', { name: 'Create the user' }).click();
    await page.getByText('The user is created.').waitFor();
    await page.getByRole('heading', { name: teacher.username, level: 1 }).waitFor();
    assert.equal((await server.t.store.findUserByEmail(teacher.email))?.role, 'teacher');
    await visit(page, 'manage-user');
  });

  it("changes a signed-in student's role: the student's next page shows them signed out", async () => {
    const studentContext = await newContext(browser, 'phone');
    const theirs = await studentContext.newPage();
    await signIn(theirs, server.base, studentBody.email, studentBody.password);

    await page.goto(`${server.base}/manage/users`);
    await page.getByLabel('Email or username starts with').fill(student.username);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: student.username }).click();
    await page.getByRole('heading', { name: student.username, level: 1 }).waitFor();
    await page.getByRole('combobox', { name: 'Role' }).selectOption('teacher');
    await page.getByRole('button', { name: 'Change the role' }).click();
    await page.getByText('The role is changed.').waitFor();
    assert.equal((await server.t.store.findUserById(student.id))?.role, 'teacher');

    await theirs.reload();
    await theirs.getByRole('heading', { name: 'Welcome' }).waitFor();
    assert.equal(await theirs.getByRole('button', { name: /Sign out/ }).count(), 0, 'signed out');
    await studentContext.close();

    // Back down is a lower role: a page says what it does first.
    await page.getByRole('combobox', { name: 'Role' }).selectOption('student');
    await page.getByRole('button', { name: 'Change the role' }).click();
    await page.getByRole('heading', { name: `Make ${student.username} a student?` }).waitFor();
    assert.equal((await server.t.store.findUserById(student.id))?.role, 'teacher', 'nothing changed yet');
    await visit(page, 'manage-user-role-confirm');
    await page.getByRole('button', { name: 'Make them a student' }).click();
    await page.getByText('The role is changed.').waitFor();
    assert.equal((await server.t.store.findUserById(student.id))?.role, 'student');
  });

  it('disables the account through its confirmation, then enables it again', async () => {
    await page.goto(`${server.base}/manage/users/${student.id}`);
    await page.getByRole('link', { name: 'Disable the account…' }).click();
    await page.getByRole('heading', { name: `Disable ${student.username}?` }).waitFor();
    await visit(page, 'manage-user-disable');
    await page.getByRole('button', { name: 'Disable the account' }).click();
    await page.getByText('The account is disabled.').waitFor();
    assert.equal((await server.t.store.findUserById(student.id))?.disabled, true);

    const elsewhere = await newContext(browser);
    const theirs = await elsewhere.newPage();
    await theirs.goto(`${server.base}/sign-in`);
    await theirs.getByLabel('Email or username').fill(studentBody.email);
    await theirs.getByLabel('Password').fill(studentBody.password);
    await theirs.getByRole('button', { name: 'Sign in', exact: true }).click();
    await theirs.getByText('This account is disabled').first().waitFor();
    await elsewhere.close();

    await page.getByRole('button', { name: 'Enable the account' }).click();
    await page.getByText('The account is enabled again').waitFor();
    assert.equal((await server.t.store.findUserById(student.id))?.disabled, false);
  });

  it('resets two-factor authentication through its confirmation', async () => {
    await server.t.store.updateUser(student.id, { totpEnabled: true, totpSecret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' });
    await page.goto(`${server.base}/manage/users/${student.id}`);
    await page.getByRole('link', { name: 'Reset two-factor authentication…' }).click();
    await page.getByRole('heading', { name: `Reset two-factor authentication of ${student.username}?` }).waitFor();
    await visit(page, 'manage-user-reset-2fa');
    await page.getByRole('button', { name: 'Reset two-factor authentication' }).click();
    await page.getByText('Two-factor authentication is off for this user:').waitFor();
    assert.equal((await server.t.store.findUserById(student.id))?.totpEnabled, false);
  });

  it("shows a user's events, and the audit log filtered by type", async () => {
    await page.goto(`${server.base}/manage/users/${student.id}`);
    const events = page.getByRole('table', { name: `Security events of ${student.username}, newest first` });
    for (const type of ['user.role_changed', 'user.disabled', 'user.enabled', 'mfa.reset']) {
      await events.getByRole('cell', { name: type, exact: true }).first().waitFor();
    }
    await page.getByRole('link', { name: 'Open these events in the audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    await page.getByRole('table', { name: `Security events about ${student.username}, newest first` }).waitFor();
    await visit(page, 'manage-audit');

    await page.getByLabel('Event type').fill('user.role_changed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByRole('table', { name: `Security events of type user.role_changed about ${student.username}, newest first` }).waitFor();
    const types = await page.locator('table tbody td:nth-of-type(1)').allTextContents();
    assert.deepEqual([...new Set(types)], ['user.role_changed']);
    assert.equal(types.length, 2);
    // The details read as a list: from and to.
    await page.locator('dl.detail').first().getByText('teacher').waitFor();

    await page.getByRole('link', { name: 'Show every event' }).click();
    await page.getByRole('link', { name: 'login.succeeded' }).first().click();
    await page.getByRole('table', { name: 'Security events of type login.succeeded, newest first' }).waitFor();
    await visit(page, 'manage-audit-filtered');
  });

  it('deletes a user through the confirmation page', async () => {
    const doomed = await server.t.users.register({ ...newUserBody(), fullName: null }, null);
    await page.goto(`${server.base}/manage/users/${doomed.id}`);
    await page.getByRole('link', { name: 'Delete the account…' }).click();
    await page.getByRole('heading', { name: `Delete ${doomed.username}?` }).waitFor();
    await visit(page, 'manage-user-delete');
    await page.getByRole('button', { name: 'Delete the account' }).click();
    await page.getByText('The user is deleted.').waitFor();
    assert.equal(await server.t.store.findUserById(doomed.id), null);
    await page.goto(`${server.base}/manage/users/${doomed.id}`);
    await page.getByRole('heading', { name: 'No such user' }).waitFor();
  });

  it('shows the outbox, with the link of a password reset asked through the API', async () => {
    const res = await fetch(`${server.base}/auth/password-reset/request`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: studentBody.email }),
    });
    assert.ok(res.ok, String(res.status));
    await page.goto(`${server.base}/manage/users`);
    await page.getByRole('navigation', { name: 'Manage' }).getByRole('link', { name: 'Outbox' }).click();
    await page.getByRole('heading', { name: 'Outbox' }).waitFor();
    // The mail is sent in the background after the API answers: reload until it is kept.
    const link = page.getByRole('link', { name: /\/reset-password\?token=/ });
    for (let i = 0; i < 50 && (await link.count()) === 0; i++) await page.reload();
    await page.getByText(studentBody.email).first().waitFor();
    const href = await link.first().getAttribute('href');
    assert.ok(href?.startsWith(`${server.base}/reset-password?token=`), String(href));
    await visit(page, 'manage-outbox');
  });

  it('shows a non-admin the 403 page', async () => {
    const context = await newContext(browser);
    const theirs = await context.newPage();
    await signIn(theirs, server.base, studentBody.email, studentBody.password);
    const response = await theirs.goto(`${server.base}/manage/users`);
    assert.equal(response?.status(), 403);
    await theirs.getByRole('heading', { name: 'Not allowed' }).waitFor();
    await visit(theirs, 'manage-forbidden');
    await context.close();
  });

  it('keeps the last admin, and signs out an admin who demotes themselves', async () => {
    const me = await server.t.users.findByLogin(adminBody.email);
    assert.ok(me);
    await page.goto(`${server.base}/manage/users/${me.id}/role?to=teacher`);
    await page.getByRole('button', { name: 'Make them a teacher' }).click();
    await page.getByText('is the last admin who can sign in').first().waitFor();
    await visit(page, 'manage-last-admin');

    const other = newUserBody();
    await server.t.users.ensureAdmin({ email: other.email, password: other.password, username: other.username });
    await page.getByRole('button', { name: 'Make them a teacher' }).click();
    await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
    await visit(page, 'manage-self-signed-out');
    await page.goto(`${server.base}/manage/users`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal((await server.t.store.findUserById(me.id))?.role, 'teacher');
  });
});
