/**
 * The attendance pages through app.inject, as a browser uses them (cookies, CSRF tokens, forms):
 * a teacher's courses, roster and session pages, the projector whose QR (drawn by the server)
 * decodes to the check-in link, a student checking in signed in and signed out (the scan kept
 * across the sign-in), manual marks, ending a session, the CSV, the badge scanner's sync, and who
 * may open what.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { buildTestApp, newUserBody, type TestApp } from '../helpers/app.js';
import { decodeSvg } from '../helpers/qr-decode.js';

class Visitor {
  private cookies = new Map<string, string>();
  csrf = '';
  constructor(private readonly t: TestApp) {}

  private keep(res: LightMyRequestResponse) {
    for (const c of res.cookies as { name: string; value: string; maxAge?: number }[]) {
      if (c.value === '' || c.maxAge === 0) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
    const token = /name="_csrf" value="([^"]+)"/.exec(res.body)?.[1];
    if (token !== undefined) this.csrf = token;
    return res;
  }

  get cookie() {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  has(name: string) {
    return this.cookies.has(name);
  }

  async get(url: string) {
    return this.keep(await this.t.app.inject({ url, headers: { accept: 'text/html', cookie: this.cookie } }));
  }

  async post(url: string, form: Record<string, string>) {
    const body = new URLSearchParams({ _csrf: this.csrf, ...form });
    return this.keep(
      await this.t.app.inject({
        method: 'POST',
        url,
        headers: { accept: 'text/html', cookie: this.cookie, 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost:80' },
        payload: body.toString(),
      }),
    );
  }

  async postJson(url: string, json: unknown) {
    return this.keep(
      await this.t.app.inject({
        method: 'POST',
        url,
        headers: { accept: 'application/json', cookie: this.cookie, 'content-type': 'application/json', origin: 'http://localhost:80' },
        payload: JSON.stringify(json),
      }),
    );
  }

  async signIn(login: string, password: string, next = '/') {
    await this.get('/sign-in');
    const res = await this.post('/sign-in', { login, password, next });
    assert.equal(res.statusCode, 303, res.body.slice(0, 300));
    return res;
  }
}

describe('attendance pages', () => {
  let t: TestApp;
  let teacher: Visitor;
  let student: Visitor;
  let studentBody: ReturnType<typeof newUserBody>;
  let courseUrl = '';
  let sessionUrl = '';
  let sessionId = '';

  async function person(role: 'student' | 'teacher') {
    const body = newUserBody();
    await t.users.createWithRole({ ...body, fullName: body.full_name, role });
    const visitor = new Visitor(t);
    return { body, visitor };
  }

  before(async () => {
    t = await buildTestApp();
    const tp = await person('teacher');
    teacher = tp.visitor;
    await teacher.signIn(tp.body.username, tp.body.password);
    const sp = await person('student');
    student = sp.visitor;
    studentBody = sp.body;
    await student.signIn(sp.body.username, sp.body.password);
  });
  after(() => t.close());

  it('lets a teacher create a course, add students (all or nothing) and start a session', async () => {
    assert.equal((await teacher.get('/teach')).statusCode, 200);
    const created = await teacher.post('/teach', { name: 'Chemistry', code: 'CHEM-2' });
    assert.equal(created.statusCode, 303);
    courseUrl = String(created.headers.location);
    assert.match(courseUrl, /^\/teach\/[0-9a-f]{24}$/);
    const coursePage = await teacher.get(courseUrl);
    // The CSV file chooser: hidden until its island (which reads the file into the box) runs.
    assert.match(coursePage.body, /<div class="field" data-roster-file data-fills="f-students" data-max-bytes="262144" hidden>/);
    assert.match(coursePage.body, /<script type="module" src="\/assets\/roster-file-[\w-]+\.js"><\/script>/);
    const refused = await teacher.post(`${courseUrl}/roster`, { students: `${studentBody.email}\nnobody@example.com` });
    assert.equal(refused.statusCode, 400);
    assert.match(refused.body, /line 2 &quot;nobody@example.com&quot;/);
    const added = await teacher.post(`${courseUrl}/roster`, { students: `${studentBody.email}\n` });
    assert.equal(added.statusCode, 303);
    const page = await teacher.get(String(added.headers.location));
    assert.match(page.body, /Added 1 to the roster/);
    assert.match(page.body, new RegExp(studentBody.username));
    const started = await teacher.post(`${courseUrl}/sessions`, { name: 'Lab 1' });
    assert.equal(started.statusCode, 303);
    sessionUrl = String(started.headers.location);
    sessionId = sessionUrl.split('/').at(-1) as string;
    const live = await teacher.get(sessionUrl);
    assert.equal(live.statusCode, 200);
    assert.match(live.body, /Checked in: <span id="live-count">0<\/span>/);
  });

  it('shows the projector a QR, drawn by the server, that decodes to the check-in link', async () => {
    const page = await teacher.get(`${sessionUrl}/projector`);
    assert.equal(page.statusCode, 200);
    const svg = /<div id="projector-code">(<svg[\s\S]*?<\/svg>)/.exec(page.body)?.[1];
    assert.ok(svg, 'an inline SVG');
    const link = decodeSvg(svg).text;
    assert.match(link, new RegExp(`^http://[^/]+/attend/${sessionId}\\?c=[A-Za-z0-9_-]{12}$`));
    const again = await t.app.inject({ url: `${sessionUrl}/qr.svg`, headers: { cookie: teacher.cookie } });
    assert.equal(again.statusCode, 200);
    assert.equal(decodeSvg(again.body).text, link, 'the same code on a second tab');
  });

  it('checks a signed-in student in at once, and says "already checked in" the second time', async () => {
    const svg = (await t.app.inject({ url: `${sessionUrl}/qr.svg`, headers: { cookie: teacher.cookie } })).body;
    const path = new URL(decodeSvg(svg).text).pathname + new URL(decodeSvg(svg).text).search;
    const first = await student.get(path);
    assert.equal(first.statusCode, 200, first.body.slice(0, 500));
    assert.match(first.body, /<h1 class="checkin-word status-present">Present<\/h1>/);
    assert.ok(student.has('adev'), 'a device cookie');
    const second = await student.get(path);
    assert.match(second.body, /Already checked in/);
    assert.match(second.body, /at <time datetime="[^"]+">\d\d:\d\d UTC<\/time>/);
    const live = await teacher.get(sessionUrl);
    assert.match(live.body, /Checked in: <span id="live-count">1<\/span>/);
  });

  it('keeps a signed-out scan across the sign-in and checks in as of the scan', async () => {
    const other = await person('student');
    await teacher.post(`${courseUrl}/roster`, { students: other.body.email });
    const svg = (await t.app.inject({ url: `${sessionUrl}/qr.svg`, headers: { cookie: teacher.cookie } })).body;
    const link = new URL(decodeSvg(svg).text);
    const visitor = other.visitor;
    const scan = await visitor.get(link.pathname + link.search);
    assert.equal(scan.statusCode, 200);
    assert.match(scan.body, /Sign in to check in/);
    assert.ok(visitor.has('atk'), 'the arrival ticket cookie');
    const scannedAt = /datetime="([^"]+)"/.exec(scan.body)?.[1];
    const signedIn = await visitor.signIn(other.body.username, other.body.password, '/attend/complete');
    assert.equal(signedIn.headers.location, '/attend/complete');
    const done = await visitor.get('/attend/complete');
    assert.equal(done.statusCode, 200, done.body.slice(0, 400));
    assert.match(done.body, /Present/);
    assert.match(done.body, new RegExp(`datetime="${scannedAt}"`));
    const replay = await visitor.get('/attend/complete');
    assert.equal(replay.statusCode, 400, 'the ticket is used up');
  });

  it('refuses a forged or unknown link with a page that says so', async () => {
    const forged = await student.get(`/attend/${sessionId}?c=AAAAAAAAAAAA`);
    assert.equal(forged.statusCode, 400);
    assert.match(forged.body, /not the code of this session/);
    const unknown = await student.get('/attend/6916cbc709d9eedb316de5c3?c=AAAAAAAAAAAA');
    assert.equal(unknown.statusCode, 404);
  });

  it('saves a manual mark, downloads the CSV, ends the session after asking, and shows the student their record', async () => {
    const me = await t.users.findByLogin(studentBody.username);
    const marked = await teacher.post(`${sessionUrl}/marks`, { user_id: me?.id ?? '', status: 'excused', note: 'Dentist' });
    assert.equal(marked.statusCode, 303);
    assert.match((await teacher.get(String(marked.headers.location))).body, /The mark is saved/);
    const csv = await t.app.inject({ url: `${sessionUrl}/report.csv`, headers: { cookie: teacher.cookie } });
    assert.equal(csv.statusCode, 200);
    assert.deepEqual([...csv.rawPayload.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
    assert.match(csv.body, /,excused,.*,manual,,Dentist\r\n/);
    const ask = await teacher.get(`${sessionUrl}/end`);
    assert.match(ask.body, /Its codes stop working at once/);
    const ended = await teacher.post(`${sessionUrl}/end`, {});
    assert.equal(ended.statusCode, 303);
    assert.match((await teacher.get(sessionUrl)).body, /Ended/);
    const mine = await student.get('/attendance');
    assert.equal(mine.statusCode, 200);
    assert.match(mine.body, /Chemistry/);
    assert.match(mine.body, /Excused/);
  });

  it('syncs badge scans from the scanner page with its CSRF token, and refuses them without', async () => {
    const scanPage = await teacher.get(`${sessionUrl}/scan`);
    assert.equal(scanPage.statusCode, 200);
    const csrf = /data-csrf="([^"]+)"/.exec(scanPage.body)?.[1] ?? '';
    const badge = await t.app.inject({ method: 'POST', url: '/qr/generate', headers: { cookie: '' } });
    assert.equal(badge.statusCode, 401);
    const refused = await teacher.postJson(`${sessionUrl}/badge-scans`, { scans: [{ data: 'x', scanned_at: new Date().toISOString() }] });
    assert.equal(refused.statusCode, 403, 'no CSRF token');
    const ok = await teacher.postJson(`${sessionUrl}/badge-scans`, { _csrf: csrf, scans: [{ data: 'not a badge', scanned_at: new Date().toISOString() }] });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json().results, [{ outcome: 'refused', reason: 'malformed', user_id: null }]);
  });

  it('keeps teachers to their own courses and students out of the teacher pages', async () => {
    assert.equal((await student.get('/teach')).statusCode, 403);
    assert.equal((await student.get(courseUrl)).statusCode, 403);
    const other = await person('teacher');
    await other.visitor.signIn(other.body.username, other.body.password);
    assert.equal((await other.visitor.get(courseUrl)).statusCode, 404);
    assert.equal((await other.visitor.get(`${sessionUrl}/projector`)).statusCode, 404);
    const signedOut = await new Visitor(t).get(courseUrl);
    assert.equal(signedOut.statusCode, 303);
  });
});
