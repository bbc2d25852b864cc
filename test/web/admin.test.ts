/**
 * The admin pages (/manage/...) against hostile input, through app.inject: bad ids and cursors,
 * unknown roles, huge and repeated values, forms without their CSRF token, non-admins and
 * anonymous visitors. Every answer is a clear page with a 4xx status (never a 5xx), and a refused
 * form changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { linkify } from '../../src/web/pages/manage/outbox-page.js';
import { buildTestApp, newUserBody, type TestApp } from '../helpers/app.js';

const HTML = { accept: 'text/html' };

/** A browser's cookies and CSRF token, as inject requests carry them. */
interface Browser {
  cookie: string;
  csrf: string;
}

function cookiesOf(response: LightMyRequestResponse): Record<string, string> {
  return Object.fromEntries(response.cookies.map((c) => [c.name, c.value]));
}

function tokenIn(body: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(body);
  assert.ok(match, 'a form with a CSRF token');
  return match[1] as string;
}

async function signIn(t: TestApp, login: string, password: string): Promise<Browser> {
  const page = await t.app.inject({ url: '/sign-in', headers: HTML });
  const anonymous = cookiesOf(page).csrf;
  const res = await t.app.inject({
    method: 'POST',
    url: '/sign-in',
    headers: { ...HTML, 'content-type': 'application/x-www-form-urlencoded', cookie: `csrf=${anonymous}` },
    payload: new URLSearchParams({ _csrf: tokenIn(page.body), login, password }).toString(),
  });
  assert.equal(res.statusCode, 303, `signed in: ${res.body}`);
  const sid = cookiesOf(res).sid;
  assert.ok(sid);
  const home = await t.app.inject({ url: '/', headers: { ...HTML, cookie: `sid=${sid}` } });
  return { cookie: `sid=${sid}`, csrf: tokenIn(home.body) };
}

const get = (t: TestApp, url: string, browser?: Browser) =>
  t.app.inject({ url, headers: browser === undefined ? HTML : { ...HTML, cookie: browser.cookie } });

function post(t: TestApp, url: string, browser: Browser, fields: Record<string, string | string[]> = {}, withToken = true) {
  const form = new URLSearchParams();
  if (withToken) form.append('_csrf', browser.csrf);
  for (const [name, value] of Object.entries(fields)) for (const v of [value].flat()) form.append(name, v);
  return t.app.inject({
    method: 'POST',
    url,
    headers: { ...HTML, 'content-type': 'application/x-www-form-urlencoded', cookie: browser.cookie },
    payload: form.toString(),
  });
}

/** A page of the site's own look, with the status asked for. */
function assertPage(res: LightMyRequestResponse, status: number, text?: string | RegExp) {
  assert.equal(res.statusCode, status, `${status} expected: ${res.body.slice(0, 300)}`);
  assert.match(String(res.headers['content-type']), /^text\/html/);
  assert.match(res.body, /<h1>/);
  if (text !== undefined) assert.match(res.body, typeof text === 'string' ? new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : text);
}

describe('the admin pages (/manage) under hostile input', () => {
  let t: TestApp;
  let admin: Browser;
  let adminId: string;
  let student: Browser;
  let studentId: string;
  const studentBody = newUserBody();

  before(async () => {
    t = await buildTestApp();
    const a = newUserBody();
    await t.users.ensureAdmin({ email: a.email, password: a.password, username: a.username });
    adminId = (await t.users.findByLogin(a.email))?.id as string;
    admin = await signIn(t, a.email, a.password);
    const created = await t.users.register({ ...studentBody, fullName: studentBody.full_name }, null);
    studentId = created.id;
    student = await signIn(t, studentBody.email, studentBody.password);
  });
  after(() => t?.close());

  const pages = () => [
    '/manage/users',
    '/manage/users/new',
    `/manage/users/${studentId}`,
    `/manage/users/${studentId}/role?to=student`,
    `/manage/users/${studentId}/disable`,
    `/manage/users/${studentId}/reset-2fa`,
    `/manage/users/${studentId}/delete`,
    '/manage/audit',
    '/manage/outbox',
  ];
  const forms = () => [
    ['/manage/users/new', { username: 'made_by_a_student', email: 'made@example.com', password: 'long enough password', role: 'admin' }],
    [`/manage/users/${adminId}/profile`, { username: 'renamed', email: 'renamed@example.com' }],
    [`/manage/users/${adminId}/role`, { role: 'student', confirm: 'yes' }],
    [`/manage/users/${adminId}/disable`, {}],
    [`/manage/users/${adminId}/enable`, {}],
    [`/manage/users/${adminId}/reset-2fa`, {}],
    [`/manage/users/${adminId}/delete`, {}],
  ] as const;

  async function adminUnchanged() {
    const now = await t.store.findUserById(adminId);
    assert.ok(now, 'the admin is still there');
    assert.equal(now.role, 'admin');
    assert.equal(now.disabled, false);
    assert.notEqual(now.username, 'renamed');
    assert.equal(await t.store.findUserByUsername('made_by_a_student'), null, 'nobody created');
  }

  describe('who may open them', () => {
    it('sends an anonymous visitor to sign in, coming back to the page', async () => {
      for (const url of pages()) {
        const res = await get(t, url);
        assert.equal(res.statusCode, 303, url);
        assert.equal(res.headers.location, `/sign-in?next=${encodeURIComponent(url)}`);
      }
    });

    it('shows a signed-in non-admin the 403 page, in the same look', async () => {
      for (const url of pages()) {
        const res = await get(t, url, student);
        assertPage(res, 403, 'Only an admin may open this page.');
        assert.match(res.body, /<nav aria-label="Main">/, 'the site header');
        assert.doesNotMatch(res.body, /href="\/manage\/users"/, 'no Manage link for a student');
      }
    });

    it('refuses every admin form from a non-admin (their own valid CSRF token) and changes nothing', async () => {
      for (const [url, fields] of forms()) {
        const res = await post(t, url, student, fields);
        assertPage(res, 403, 'Only an admin may open this page.');
      }
      await adminUnchanged();
    });

    it('refuses every admin form from an anonymous visitor and changes nothing', async () => {
      const page = await get(t, '/sign-in');
      const anonymous: Browser = { cookie: `csrf=${cookiesOf(page).csrf}`, csrf: tokenIn(page.body) };
      for (const [url, fields] of forms()) {
        const res = await post(t, url, anonymous, fields);
        assert.equal(res.statusCode, 303, url);
        assert.match(String(res.headers.location), /^\/sign-in\?next=/);
      }
      await adminUnchanged();
    });

    it('refuses every admin form without its CSRF token, with a wrong one, or a repeated one', async () => {
      for (const [url, fields] of forms()) {
        assertPage(await post(t, url, admin, fields, false), 403, 'This form cannot be sent');
        assertPage(await post(t, url, admin, { ...fields, _csrf: 'x'.repeat(43) }, false), 403, 'This form cannot be sent');
        assertPage(await post(t, url, admin, { ...fields, _csrf: [admin.csrf, admin.csrf] }, false), 403, 'This form cannot be sent');
        // A student's token is worthless in the admin's session.
        assertPage(await post(t, url, admin, { ...fields, _csrf: student.csrf }, false), 403, 'This form cannot be sent');
      }
      await adminUnchanged();
    });
  });

  describe('query strings', () => {
    it('explains a bad search, role filter or page cursor on the list of users', async () => {
      const cases: [string, RegExp][] = [
        ['/manage/users?role=superuser', /Choose a role from the list/],
        ['/manage/users?role=student&role=admin', /Choose a role from the list/],
        [`/manage/users?q=${'a'.repeat(5000)}`, /Search for at most 254 characters/],
        ['/manage/users?q=a%00b', /Search for at most 254 characters, on one line/],
        ['/manage/users?q=a&q=b', /Search for at most/],
        ['/manage/users?cursor=zzz', /This page link is broken/],
        ['/manage/users?cursor=%27%20OR%201%3D1--', /This page link is broken/],
      ];
      for (const [url, message] of cases) {
        const res = await get(t, url, admin);
        assertPage(res, 400, message);
        assert.match(res.body, /<title>Error: Users/);
        assert.doesNotMatch(res.body, /<table/, `${url}: no results under a bad filter`);
      }
    });

    it('searches for LIKE wildcards and markup as plain text', async () => {
      for (const q of ['%', '_', '<script>alert(1)</script>', "'; DROP TABLE users; --"]) {
        const res = await get(t, `/manage/users?q=${encodeURIComponent(q)}`, admin);
        assertPage(res, 200, 'No users match.');
        assert.doesNotMatch(res.body, /<script>alert/);
      }
    });

    it('explains a bad type, user id or cursor on the audit log', async () => {
      const cases: [string, RegExp][] = [
        ['/manage/audit?type=Login.Failed', /An event type is lowercase letters/],
        [`/manage/audit?type=${'a'.repeat(5000)}`, /An event type is lowercase letters/],
        ['/manage/audit?type=a&type=b', /An event type is lowercase letters/],
        ['/manage/audit?user_id=42', /A user id is 24 characters/],
        ['/manage/audit?user_id=%3Cb%3E', /A user id is 24 characters/],
        ['/manage/audit?before=yesterday', /This page link is broken/],
      ];
      for (const [url, message] of cases) {
        const res = await get(t, url, admin);
        assertPage(res, 400, message);
        assert.doesNotMatch(res.body, /<b>/);
      }
    });

    it('shows what an attacker sent (a user agent, a login name) as text in the audit log', async () => {
      await t.app.inject({
        method: 'POST',
        url: '/auth/login',
        headers: { 'user-agent': '<script>alert("ua")</script>' },
        payload: { email: studentBody.email, password: 'not the password' },
      });
      const res = await get(t, '/manage/audit?type=login.failed', admin);
      assertPage(res, 200, '&lt;script&gt;alert(&quot;ua&quot;)&lt;/script&gt;');
      assert.doesNotMatch(res.body, /<script>alert/);
      assert.match(res.body, /<dt>reason<\/dt><dd>wrong_password<\/dd>/, 'the detail as a definition list');
    });

    it("explains a broken link to a user's older events, and shows the newest", async () => {
      const res = await get(t, `/manage/users/${studentId}?before=not-an-id`, admin);
      assertPage(res, 400, 'The link to older events is broken');
      assert.match(res.body, /user\.registered/);
    });

    it('refuses an unknown role on the confirmation page', async () => {
      for (const to of ['root', '', 'admin&to=student']) {
        const res = await get(t, `/manage/users/${studentId}/role?to=${encodeURIComponent(to)}`, admin);
        assertPage(res, 400, 'Choose a role from the list');
      }
    });

    it('answers 404 for an id that is no id or names nobody, on every page and form', async () => {
      for (const id of ['nope', '000000000000000000000000', 'g'.repeat(24), `${'a'.repeat(23)}%00`, 'a'.repeat(90)]) {
        for (const suffix of ['', '/disable', '/reset-2fa', '/delete', '/role?to=student']) {
          assertPage(await get(t, `/manage/users/${id}${suffix}`, admin), 404, 'No such user');
        }
        for (const action of ['profile', 'role', 'disable', 'enable', 'reset-2fa', 'delete']) {
          const res = await post(t, `/manage/users/${id}/${action}`, admin, { role: 'student', confirm: 'yes', username: 'x_y_z', email: 'x@example.com' });
          assertPage(res, 404, 'No such user');
        }
      }
      // Longer than the router takes for a parameter: answered before any page scope, still the 404 page.
      assertPage(await get(t, `/manage/users/${'a'.repeat(500)}`, admin), 404, 'Page not found');
    });
  });

  describe('creating a user', () => {
    const url = '/manage/users/new';

    it('ties each missing or wrong field to its input, and creates nobody', async () => {
      const fresh = newUserBody();
      const cases: [Record<string, string | string[]>, number, RegExp][] = [
        [{}, 422, /Enter a username[\s\S]*Enter an email address[\s\S]*Choose a first password[\s\S]*Choose a role/],
        [{ ...fresh, role: 'superuser' }, 422, /Choose a role from the list/],
        [{ ...fresh, role: ['student', 'admin'] }, 422, /Choose a role from the list/],
        [{ ...fresh, username: [fresh.username, 'other_name'], role: 'student' }, 422, /Enter a username/],
        [{ ...fresh, email: 'not-an-email', role: 'student' }, 422, /not a valid email address/],
        [{ ...fresh, email: `${'a'.repeat(300)}@example.com`, role: 'student' }, 422, /not a valid email address/],
        [{ ...fresh, username: 'x'.repeat(20_000), role: 'student' }, 422, /aria-invalid="true"/],
        [{ ...fresh, username: 'bad\u0000name', role: 'student' }, 422, /aria-invalid="true"/],
        [{ ...fresh, full_name: 'n'.repeat(201), role: 'student' }, 422, /at most 200 characters/],
        [{ ...fresh, password: 'short', role: 'student' }, 422, /at least 8 characters/],
        [{ ...fresh, username: studentBody.username, role: 'student' }, 400, /belongs to another account already/],
        [{ ...fresh, email: studentBody.email, role: 'student' }, 400, /belongs to another account already/],
      ];
      for (const [fields, status, message] of cases) {
        const res = await post(t, url, admin, fields);
        assertPage(res, status, message);
        assert.match(res.body, /<title>Error: Create a user/);
        assert.match(res.body, /There is a problem/);
        assert.doesNotMatch(res.body, new RegExp(fresh.password), 'the password is never sent back');
      }
      assert.equal(await t.store.findUserByEmail(fresh.email), null, 'nobody created');
    });

    it('refuses a form body that is too large, a JSON array or plain text, with a page', async () => {
      const big = await t.app.inject({
        method: 'POST',
        url,
        headers: { ...HTML, 'content-type': 'application/x-www-form-urlencoded', cookie: admin.cookie },
        payload: `_csrf=${admin.csrf}&full_name=${'x'.repeat(70 * 1024)}`,
      });
      assertPage(big, 413, 'too large');
      const array = await t.app.inject({ method: 'POST', url, headers: { ...HTML, 'content-type': 'application/json', cookie: admin.cookie }, payload: '[1,2]' });
      assertPage(array, 403, 'This form cannot be sent');
      const text = await t.app.inject({ method: 'POST', url, headers: { ...HTML, 'content-type': 'text/plain', cookie: admin.cookie }, payload: 'hello' });
      assert.ok(text.statusCode >= 400 && text.statusCode < 500, String(text.statusCode));
    });

    it('creates a teacher and shows them', async () => {
      const fresh = newUserBody();
      const res = await post(t, url, admin, { ...fresh, role: 'teacher' });
      assert.equal(res.statusCode, 303);
      const created = await t.store.findUserByEmail(fresh.email);
      assert.equal(created?.role, 'teacher');
      assert.equal(res.headers.location, `/manage/users/${created?.id}?done=created`);
      assertPage(await get(t, String(res.headers.location), admin), 200, 'The user is created.');
    });
  });

  describe("changing a user's profile and role", () => {
    it('refuses a bad email, a taken username or a name with control characters, and keeps the old ones', async () => {
      const target = await t.users.register({ ...newUserBody(), fullName: null }, null);
      const url = `/manage/users/${target.id}/profile`;
      const cases: [Record<string, string | string[]>, number, RegExp][] = [
        [{ username: target.username, email: 'nope' }, 422, /not a valid email address/],
        [{ username: '', email: target.email }, 422, /Enter a username/],
        [{ username: target.username, email: [target.email, 'b@example.com'] }, 422, /Enter an email address/],
        [{ username: studentBody.username, email: target.email }, 400, /belongs to another account already/],
        [{ username: target.username, email: target.email, full_name: 'a\u0007b' }, 422, /no control characters/],
        [{ username: target.username, email: target.email, full_name: 'x'.repeat(50_000) }, 422, /at most 200 characters/],
        [{ username: '<img src=x onerror=alert(1)>', email: target.email }, 422, /aria-invalid="true"/],
      ];
      for (const [fields, status, message] of cases) {
        const res = await post(t, url, admin, fields);
        assertPage(res, status, message);
        assert.doesNotMatch(res.body, /<img src=x/);
      }
      const now = await t.store.findUserById(target.id);
      assert.equal(now?.email, target.email);
      assert.equal(now?.username, target.username);
      assert.equal(now?.fullName, null);
    });

    it('refuses an unknown role and leaves the role alone', async () => {
      for (const role of ['root', '', 'ADMIN']) {
        assertPage(await post(t, `/manage/users/${studentId}/role`, admin, { role }), 422, 'Choose a role from the list');
      }
      assertPage(await post(t, `/manage/users/${studentId}/role`, admin, { role: ['admin', 'teacher'] }), 422, 'Choose a role from the list');
      assert.equal((await t.store.findUserById(studentId))?.role, 'student');
    });

    it('asks before a lower role, and ends the user’s browser session once it is changed', async () => {
      const body = newUserBody();
      const teacher = await t.users.createByAdmin((await t.store.findUserById(adminId))!, { ...body, fullName: null, role: 'teacher' });
      const theirs = await signIn(t, body.email, body.password);
      const unconfirmed = await post(t, `/manage/users/${teacher.id}/role`, admin, { role: 'student' });
      assert.equal(unconfirmed.statusCode, 303);
      assert.equal(unconfirmed.headers.location, `/manage/users/${teacher.id}/role?to=student`);
      assert.equal((await t.store.findUserById(teacher.id))?.role, 'teacher', 'nothing yet');
      assertPage(await get(t, String(unconfirmed.headers.location), admin), 200, 'Make them a student');
      assertPage(await get(t, '/', theirs), 200, /Hello/);

      const confirmed = await post(t, `/manage/users/${teacher.id}/role`, admin, { role: 'student', confirm: 'yes' });
      assert.equal(confirmed.statusCode, 303);
      assert.equal((await t.store.findUserById(teacher.id))?.role, 'student');
      const after = await get(t, '/', theirs);
      assertPage(after, 200, 'Welcome');
    });

    it('keeps the last admin: a 409 page, still an admin, still signed in', async () => {
      const res = await post(t, `/manage/users/${adminId}/role`, admin, { role: 'teacher', confirm: 'yes' });
      assertPage(res, 409, 'is the last admin who can sign in');
      assertPage(await post(t, `/manage/users/${adminId}/disable`, admin), 409, 'is the last admin');
      assertPage(await post(t, `/manage/users/${adminId}/delete`, admin), 409, 'is the last admin');
      await adminUnchanged();
      assertPage(await get(t, '/manage/users', admin), 200, 'Users');
    });
  });

  describe('the outbox', () => {
    it('links only to the service itself, and escapes the rest', () => {
      const base = 'http://localhost:8000';
      const out = linkify(
        `Open ${base}/reset-password?token=abc&x=1 or https://evil.example/${base}/ or http://localhost:8000.evil.example/x <script>alert(1)</script> javascript:alert(1)`,
        base,
      ).value;
      assert.match(out, /<a href="http:\/\/localhost:8000\/reset-password\?token=abc&amp;x=1">/);
      assert.equal((out.match(/<a /g) ?? []).length, 1, 'one link');
      assert.match(out, /&lt;script&gt;/);
      assert.equal(linkify(`${base}/x`, null).value, `${base}/x`, 'no links without a public URL');
    });

    it('shows the mails a reset request sent, with its link', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/auth/password-reset/request', payload: { email: studentBody.email } });
      assert.ok(res.statusCode < 300, String(res.statusCode));
      // The mail goes out in the background, after the answer: the page shows it once it is kept.
      let page = await get(t, '/manage/outbox', admin);
      for (let i = 0; i < 1000 && !page.body.includes(studentBody.email); i++) {
        await new Promise((resolve) => setImmediate(resolve));
        page = await get(t, '/manage/outbox', admin);
      }
      assertPage(page, 200, studentBody.email);
      assert.match(page.body, /<a href="http:\/\/localhost:\d+\/reset-password\?token=[^"]+">/);
    });

    it('shows the mails 20 a page (100 would weigh over 100 KB), and explains a broken page link', async () => {
      // 21 mails: reset requests for five accounts (five an hour each at most).
      const accounts = await Promise.all([1, 2, 3, 4, 5].map(() => t.users.register({ ...newUserBody(), fullName: null }, null)));
      for (let i = 0; i < 21; i++) {
        const account = accounts[i % accounts.length] as { email: string };
        const res = await t.app.inject({ method: 'POST', url: '/auth/password-reset/request', payload: { email: account.email } });
        assert.ok(res.statusCode < 300, String(res.statusCode));
      }
      const mailsOn = (body: string) => (body.match(/<li class="card mail">/g) ?? []).length;
      let page = await get(t, '/manage/outbox?from=20', admin);
      for (let i = 0; i < 1000 && mailsOn(page.body) === 0; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        page = await get(t, '/manage/outbox?from=20', admin);
      }
      assertPage(page, 200, 'Newest mails');
      const first = await get(t, '/manage/outbox', admin);
      assert.equal(mailsOn(first.body), 20);
      assert.match(first.body, /<a href="\/manage\/outbox\?from=20" rel="next">Older mails<\/a>/);
      assertPage(await get(t, '/manage/outbox?from=9999', admin), 200, 'No mails this far back.');
      for (const from of ['-1', 'abc', '1e3', '99999', '20&from=40']) {
        const res = await get(t, `/manage/outbox?from=${encodeURIComponent(from).replace('%26', '&').replace('%3D', '=')}`, admin);
        assertPage(res, 400, 'This page link is broken');
      }
    });

    it('is a 404 page when mail goes out through SMTP', async () => {
      const smtp = await buildTestApp({ SMTP_URL: 'smtp://127.0.0.1:9' });
      try {
        const a = newUserBody();
        await smtp.users.ensureAdmin({ email: a.email, password: a.password, username: a.username });
        const browser = await signIn(smtp, a.email, a.password);
        assertPage(await get(smtp, '/manage/outbox', browser), 404, 'There is no outbox');
        assert.doesNotMatch((await get(smtp, '/manage/users', browser)).body, /href="\/manage\/outbox"/);
      } finally {
        await smtp.close();
      }
    });
  });

  it('never answers a 5xx to junk on any admin page or form', async () => {
    const junkQueries = ['?', '?%', '?a=%E0%A4%A', `?q=${'%F0%9F%92%A9'.repeat(300)}`, '?role=%00', '?before[]=1', '?done=<b>', '?type=.&user_id=' + 'f'.repeat(24)];
    for (const url of pages()) {
      for (const junk of junkQueries) {
        const res = await get(t, `${url.split('?')[0]}${junk}`, admin);
        assert.ok(res.statusCode < 500, `${url}${junk}: ${res.statusCode}`);
        assert.doesNotMatch(res.body, /<b>/);
      }
    }
    const target = await t.users.register({ ...newUserBody(), fullName: null }, null);
    for (const [path] of forms()) {
      const url = path.replace(adminId, target.id);
      const junk: Record<string, string | string[]>[] = [
        { junk: 'x'.repeat(10_000) },
        { role: '\u0000' },
        { confirm: ['yes', 'no'], role: 'student' },
        { username: '🙂'.repeat(100), email: '@' },
      ];
      for (const fields of junk) {
        const res = await post(t, url, admin, fields);
        assert.ok(res.statusCode < 500, `${url}: ${res.statusCode}`);
      }
    }
  });
});
