/**
 * Sign in by QR in the web front, through app.inject: the screen that shows the code (/sign-in/qr,
 * its status and collect routes) and the phone's approval page (/qr-login). Hostile ids, missing or
 * garbled cookies and forms without their CSRF token get a clear page with a 4xx, never a 5xx.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { describeDevice } from '../../src/web/pages/qr-approve-pages.js';
import { bearer, buildTestApp, newUserBody, type TestApp } from '../helpers/app.js';
import { decodeSvg } from '../helpers/qr-decode.js';

const TV_AGENT = 'Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) Living-room TV';
const PHONE_AGENT = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1';

/** A browser's cookies, kept across inject calls like a real one keeps them. */
class Browser {
  readonly jar = new Map<string, string>();
  constructor(
    private readonly t: TestApp,
    readonly userAgent: string,
  ) {}

  get cookie(): string {
    return [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async request(method: 'GET' | 'POST', url: string, form?: Record<string, string | string[]>, extra: Record<string, string> = {}) {
    const headers: Record<string, string> = { accept: 'text/html', 'user-agent': this.userAgent, ...extra };
    if (this.jar.size > 0) headers.cookie = this.cookie;
    let payload: string | undefined;
    if (form !== undefined) {
      const params = new URLSearchParams();
      for (const [name, value] of Object.entries(form)) for (const v of [value].flat()) params.append(name, v);
      payload = params.toString();
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
      headers['sec-fetch-site'] ??= 'same-origin';
    }
    const res = await this.t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
    for (const c of res.cookies as { name: string; value: string; maxAge?: number; expires?: Date }[]) {
      const gone = c.value === '' || c.maxAge === 0 || (c.expires !== undefined && c.expires.getTime() <= Date.now());
      if (gone) this.jar.delete(c.name);
      else this.jar.set(c.name, c.value);
    }
    return res;
  }

  get = (url: string) => this.request('GET', url);
  post = (url: string, form: Record<string, string | string[]>, extra?: Record<string, string>) => this.request('POST', url, form, extra);
}

/** The `_csrf` value of the first form of a page. */
function csrfOf(body: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(body);
  assert.ok(match, 'the page has a form with a CSRF token');
  return match[1] as string;
}

/** The QR of the /sign-in/qr page, decoded independently (resvg + jsQR). */
function qrOf(body: string): string {
  const svg = /<svg[\s\S]*?<\/svg>/.exec(body)?.[0];
  assert.ok(svg, 'the page shows an SVG QR code');
  return decodeSvg(svg).text;
}

const idOfQr = (body: string) => new URL(qrOf(body)).searchParams.get('id') as string;

function assertNo5xx(res: { statusCode: number; body: string }, what: string) {
  assert.ok(res.statusCode < 500, `${what}: ${res.statusCode} ${res.body.slice(0, 300)}`);
}

describe('sign in by QR in the web front', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  /** A user and a phone signed in as them in a browser session. */
  async function signedInPhone(overrides: Record<string, unknown> = {}) {
    const who = newUserBody(overrides);
    const registered = await t.app.inject({ method: 'POST', url: '/auth/register', payload: who });
    assert.equal(registered.statusCode, 201, registered.body);
    const phone = new Browser(t, PHONE_AGENT);
    const page = await phone.get('/sign-in');
    const res = await phone.post('/sign-in', { _csrf: csrfOf(page.body), login: who.email, password: who.password, next: '/' });
    assert.equal(res.statusCode, 303, res.body);
    assert.ok(phone.jar.has('sid'));
    return { phone, who, id: registered.json().id as string };
  }

  /** A TV with the QR page open: its browser, the page, and the id its QR holds. */
  async function tvWithCode() {
    const tv = new Browser(t, TV_AGENT);
    const page = await tv.get('/sign-in/qr');
    assert.equal(page.statusCode, 200, page.body);
    return { tv, page, id: idOfQr(page.body) };
  }

  async function decide(phone: Browser, id: string, decision: 'approve' | 'deny') {
    const shown = await phone.get(`/qr-login?id=${id}`);
    assert.equal(shown.statusCode, 200, shown.body);
    return phone.post(`/qr-login/${decision}`, { _csrf: csrfOf(shown.body), id });
  }

  describe('GET /sign-in/qr', () => {
    it('shows the QR of a new request and keeps its secret in an HttpOnly cookie only', async () => {
      const tv = new Browser(t, TV_AGENT);
      const res = await tv.get('/sign-in/qr');
      assert.equal(res.statusCode, 200);
      const cookie = (res.cookies as { name: string; value: string; httpOnly?: boolean; sameSite?: string; maxAge?: number; path?: string }[]).find(
        (c) => c.name === 'qrl',
      );
      assert.ok(cookie, 'the qrl cookie');
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Lax');
      assert.equal(cookie.path, '/');
      assert.equal(cookie.maxAge, 120);
      const [id, secret] = cookie.value.split('.') as [string, string];
      assert.match(id, /^[A-Za-z0-9_-]{22}$/);
      assert.ok(!res.body.includes(secret), 'the secret is not in the page');
      const scanned = new URL(qrOf(res.body));
      assert.equal(scanned.pathname, '/qr-login');
      assert.equal(scanned.searchParams.get('id'), id);
      assert.ok(!scanned.href.includes(secret));
      assert.match(res.body, /The code expires in <span id="qrl-left">2 minutes<\/span>/);
      assert.match(res.body, /I approved it on my phone — continue/);
      assert.match(res.body, /<script type="module" src="\/assets\/qr-login-wait-[\w-]+\.js"><\/script>/);
    });

    it('shows the same request again after a reload, and a new one once the cookie holds nothing usable', async () => {
      const { tv, id } = await tvWithCode();
      const again = await tv.get('/sign-in/qr');
      assert.equal(again.statusCode, 200);
      assert.equal(idOfQr(again.body), id);
      assert.equal(again.cookies.length === 0 || !again.cookies.some((c: { name: string }) => c.name === 'qrl'), true, 'no new request');

      for (const garbled of ['junk', `${id}.short`, `${id}.${'A'.repeat(43)}`, '.'.repeat(70), 'x'.repeat(4000)]) {
        tv.jar.set('qrl', garbled);
        const res = await tv.get('/sign-in/qr');
        assert.equal(res.statusCode, 200, garbled);
        assert.notEqual(idOfQr(res.body), id, 'a new request');
      }
    });

    it('sends someone already signed in on (no code to show)', async () => {
      const { phone } = await signedInPhone();
      const res = await phone.get('/sign-in/qr?next=/account');
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/account');
    });
  });

  describe('GET /sign-in/qr/status', () => {
    it('reads the request of the cookie, and says expired for no cookie or a garbled one', async () => {
      const { tv } = await tvWithCode();
      const pending = await tv.get('/sign-in/qr/status');
      assert.equal(pending.statusCode, 200);
      assert.match(String(pending.headers['content-type']), /^application\/json/);
      const body = pending.json();
      assert.equal(body.status, 'pending');
      assert.equal(body.interval, 2);
      assert.ok(body.expires_in > 0 && body.expires_in <= 120);
      assert.equal(Object.keys(body).sort().join(), 'expires_in,interval,status', 'nothing else (no secret, no token)');

      const stranger = new Browser(t, TV_AGENT);
      assert.deepEqual((await stranger.get('/sign-in/qr/status')).json(), { status: 'expired' });
      stranger.jar.set('qrl', `${(tv.jar.get('qrl') as string).split('.')[0]}.${'B'.repeat(43)}`);
      const wrongSecret = await stranger.get('/sign-in/qr/status');
      assert.equal(wrongSecret.statusCode, 200);
      assert.deepEqual(wrongSecret.json(), { status: 'expired' });
      // The wrong secret spoiled nothing for the real screen.
      assert.equal((await tv.get('/sign-in/qr/status')).json().status, 'pending');
    });
  });

  describe('the whole sign-in through the pages', () => {
    it('approves on the phone, then the screen collects a browser session once', async () => {
      const { phone, who } = await signedInPhone();
      const { tv, page, id } = await tvWithCode();

      const shown = await phone.get(`/qr-login?id=${id}`);
      assert.equal(shown.statusCode, 200);
      assert.ok(shown.body.includes('Living-room TV'), 'the device asking, by its user agent');
      assert.ok(shown.body.includes('Chrome') === false);
      assert.match(shown.body, /A smart TV<br>/);
      assert.match(shown.body, /<dt>IP address<\/dt>\s*<dd>127\.0\.0\.1<\/dd>/);
      assert.match(shown.body, /Only approve a screen you are standing at/);
      assert.match(shown.body, /\d\d:\d\d:\d\d UTC/);

      const approved = await phone.post('/qr-login/approve', { _csrf: csrfOf(shown.body), id });
      assert.equal(approved.statusCode, 200, approved.body);
      assert.match(approved.body, /<h1>Approved<\/h1>/);
      assert.equal((await tv.get('/sign-in/qr/status')).json().status, 'approved');

      const collected = await tv.post('/sign-in/qr/collect', { _csrf: csrfOf(page.body), next: '/' });
      assert.equal(collected.statusCode, 303, collected.body);
      assert.equal(collected.headers.location, '/');
      assert.ok(tv.jar.has('sid'), 'signed in');
      assert.ok(!tv.jar.has('qrl'), 'the request is forgotten');
      const home = await tv.get('/');
      assert.match(home.body, new RegExp(`Hello, ${who.full_name}`));

      // The screen's session is the user's, listed with the others (the API's list).
      const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: who.email, password: who.password } });
      const sessions = await t.app.inject({ url: '/auth/sessions', headers: bearer(login.json().access_token) });
      const agents = (sessions.json() as { user_agent: string | null }[]).map((s) => s.user_agent);
      assert.ok(agents.includes(TV_AGENT), `the TV's session is listed: ${agents.join(' | ')}`);

      // Once: the same cookie (replayed) collects nothing more.
      tv.jar.set('qrl', `${id}.x`);
      const replay = await tv.post('/sign-in/qr/collect', { _csrf: csrfOf((await tv.get('/')).body) });
      assertNo5xx(replay, 'replay');
      assert.equal(replay.statusCode, 410);
    });

    it('says "not approved yet" to an early continue, with the same code', async () => {
      const { tv, page, id } = await tvWithCode();
      const early = await tv.post('/sign-in/qr/collect', { _csrf: csrfOf(page.body) });
      assert.equal(early.statusCode, 200);
      assert.match(early.body, /Not approved yet/);
      assert.equal(idOfQr(early.body), id);
      assert.ok(tv.jar.has('qrl'));
    });

    it('tells the screen it was denied, and offers a new code', async () => {
      const { phone } = await signedInPhone();
      const { tv, page, id } = await tvWithCode();
      const denied = await decide(phone, id, 'deny');
      assert.equal(denied.statusCode, 200);
      assert.match(denied.body, /<h1>Denied<\/h1>/);
      assert.equal((await tv.get('/sign-in/qr/status')).json().status, 'denied');
      // Deciding again answers a page, not an error.
      const again = await phone.post('/qr-login/approve', { _csrf: csrfOf((await phone.get('/')).body), id });
      assert.equal(again.statusCode, 409);
      assert.match(again.body, /already answered/);
      assert.equal((await phone.get(`/qr-login?id=${id}`)).statusCode, 409);

      const told = await tv.post('/sign-in/qr/collect', { _csrf: csrfOf(page.body) });
      assert.equal(told.statusCode, 403);
      assert.match(told.body, /The phone denied this sign-in/);
      assert.match(told.body, /href="\/sign-in\/qr">Show a new code/);
      assert.ok(!tv.jar.has('sid') && !tv.jar.has('qrl'));
      const fresh = await tv.get('/sign-in/qr');
      assert.notEqual(idOfQr(fresh.body), id);
      // The screen used the denial up: the request is gone now.
      assert.equal((await phone.get(`/qr-login?id=${id}`)).statusCode, 404);
    });

    it('shows a reloaded screen that was denied, then starts again', async () => {
      const { phone } = await signedInPhone();
      const { tv, id } = await tvWithCode();
      await decide(phone, id, 'deny');
      const reload = await tv.get('/sign-in/qr');
      assert.equal(reload.statusCode, 403);
      assert.match(reload.body, /The phone denied this sign-in/);
      const next = await tv.get('/sign-in/qr');
      assert.equal(next.statusCode, 200);
      assert.notEqual(idOfQr(next.body), id);
    });

    it('hands a user with a second factor to the code step, which then signs the screen in', async () => {
      const { phone, who } = await signedInPhone();
      const token = (await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: who.email, password: who.password } })).json()
        .access_token as string;
      const setup = await t.app.inject({ method: 'POST', url: '/auth/2fa/totp/setup', payload: { password: who.password }, headers: bearer(token) });
      const secret = setup.json().secret as string;
      const code = TOTP.generate({ secret: Secret.fromBase32(secret) });
      const confirmed = await t.app.inject({ method: 'POST', url: '/auth/2fa/totp/confirm', payload: { code }, headers: bearer(token) });
      assert.equal(confirmed.statusCode, 200, confirmed.body);
      const recovery = confirmed.json().recovery_codes as string[];

      // Turning the second factor on leaves the phone's browser session as it was.
      const { tv, page, id } = await tvWithCode();
      assert.equal((await decide(phone, id, 'approve')).statusCode, 200);
      const collected = await tv.post('/sign-in/qr/collect', { _csrf: csrfOf(page.body), next: '/account' });
      assert.equal(collected.statusCode, 303);
      assert.equal(collected.headers.location, '/sign-in/code?next=%2Faccount');
      assert.ok(tv.jar.has('mfa') && !tv.jar.has('sid') && !tv.jar.has('qrl'));

      const codePage = await tv.get('/sign-in/code?next=%2Faccount');
      assert.equal(codePage.statusCode, 200);
      const done = await tv.post('/sign-in/code', { _csrf: csrfOf(codePage.body), code: recovery[1] as string, next: '/account' });
      assert.equal(done.statusCode, 303, done.body);
      assert.equal(done.headers.location, '/account');
      assert.ok(tv.jar.has('sid'));
    });
  });

  describe('hostile input', () => {
    it('answers unknown, malformed, repeated and huge ids on the approval page with a clear page', async () => {
      const { phone } = await signedInPhone();
      const ids = ['', 'abc', 'A'.repeat(22), `${'A'.repeat(21)}!`, '<script>alert(1)</script>', '../../etc/passwd', 'x'.repeat(5000), '%00', '%E2%80%AE'];
      for (const id of ids) {
        const res = await phone.get(`/qr-login?id=${encodeURIComponent(id)}`);
        assertNo5xx(res, id);
        assert.equal(res.statusCode, 404, id);
        assert.match(res.body, /This sign-in request is not there/);
        assert.ok(!res.body.includes('<script>alert'), 'nothing reflected unescaped');
      }
      for (const url of ['/qr-login', '/qr-login?id=a&id=b', '/qr-login?id[]=x', '/qr-login?id[a]=x']) {
        const res = await phone.get(url);
        assert.equal(res.statusCode, 404, url);
      }
    });

    it('sends a phone that is not signed in to sign in, and back', async () => {
      const { id } = await tvWithCode();
      const res = await new Browser(t, PHONE_AGENT).get(`/qr-login?id=${id}`);
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, `/sign-in?next=${encodeURIComponent(`/qr-login?id=${id}`)}`);
    });

    it('refuses approve and deny without the CSRF token, from another site, or with junk ids', async () => {
      const { phone } = await signedInPhone();
      const { tv, id } = await tvWithCode();
      const csrf = csrfOf((await phone.get(`/qr-login?id=${id}`)).body);
      for (const decision of ['approve', 'deny']) {
        const url = `/qr-login/${decision}`;
        for (const form of [{ id }, { id, _csrf: 'guessed' }, { id, _csrf: '' }, { id, _csrf: [csrf, csrf] }] as Record<string, string | string[]>[]) {
          const res = await phone.post(url, form);
          assert.equal(res.statusCode, 403, `${url} ${JSON.stringify(form)}`);
          assert.match(res.body, /This form cannot be sent/);
        }
        const crossSite = await phone.post(url, { id, _csrf: csrf }, { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' });
        assert.equal(crossSite.statusCode, 403);
        const junks: Record<string, string | string[]>[] = [{}, { id: '' }, { id: 'nope' }, { id: [id, id] }, { id: 'A'.repeat(22) }, { id: 'x'.repeat(60_000) }];
        for (const junk of junks) {
          const res = await phone.post(url, { _csrf: csrf, ...junk });
          assertNo5xx(res, `${url} ${JSON.stringify(junk).slice(0, 60)}`);
          assert.equal(res.statusCode, 404, `${url} ${JSON.stringify(junk).slice(0, 60)}`);
        }
      }
      // None of it decided anything.
      assert.equal((await tv.get('/sign-in/qr/status')).json().status, 'pending');
    });

    it('refuses collect without the CSRF token, and answers a missing or garbled cookie with "expired"', async () => {
      const { tv, page } = await tvWithCode();
      for (const form of [{}, { _csrf: 'guessed' }] as Record<string, string>[]) {
        const res = await tv.post('/sign-in/qr/collect', form);
        assert.equal(res.statusCode, 403);
      }
      const csrf = csrfOf(page.body);
      const held = tv.jar.get('qrl') as string;
      for (const garbled of ['', 'junk', held.replace(/.$/, held.endsWith('A') ? 'B' : 'A'), `${held}.${held}`, '%FF'.repeat(30)]) {
        if (garbled === '') tv.jar.delete('qrl');
        else tv.jar.set('qrl', garbled);
        const res = await tv.post('/sign-in/qr/collect', { _csrf: csrf });
        assertNo5xx(res, garbled);
        assert.equal(res.statusCode, 410, garbled);
        assert.match(res.body, /The code expired/);
        assert.ok(!tv.jar.has('sid'));
      }
      // The real cookie still works: the wrong ones spoiled nothing.
      tv.jar.set('qrl', held);
      assert.equal((await tv.get('/sign-in/qr/status')).json().status, 'pending');
    });

    it('answers bodies too large or of the wrong type with a page, not a 5xx', async () => {
      const { phone } = await signedInPhone();
      const big = await phone.post('/qr-login/approve', { id: 'x'.repeat(70_000) });
      assert.equal(big.statusCode, 413);
      const json = await phone.request('POST', '/qr-login/deny', undefined, { 'content-type': 'text/plain', 'sec-fetch-site': 'same-origin' });
      assertNo5xx(json, 'text/plain');
      assert.ok(json.statusCode >= 400);
    });
  });

  describe('describeDevice', () => {
    it('names the browser and the system of common user agents, and nothing it does not know', () => {
      assert.equal(
        describeDevice('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0'),
        'Edge on Windows',
      );
      assert.equal(describeDevice('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'), 'Firefox on Linux');
      assert.equal(describeDevice('Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36'), 'Chrome on Android');
      assert.equal(describeDevice(PHONE_AGENT), 'Safari on iOS');
      assert.equal(describeDevice(TV_AGENT), 'A smart TV');
      assert.equal(describeDevice('Mozilla/5.0 (X11; Linux x86_64)'), 'A device running Linux');
      assert.equal(describeDevice('curl/8.5.0'), null);
      assert.equal(describeDevice(null), null);
    });
  });

  describe('rate limits', () => {
    it('counts the pages with the API: starting, reading and collecting share the per-IP limit', async () => {
      const limited = await buildTestApp({ RATE_LIMIT_QR_LOGIN_PER_IP: '3' });
      try {
        const start = await limited.app.inject({ method: 'POST', url: '/auth/qr-login/start' });
        assert.equal(start.statusCode, 200);
        const tv = new Browser(limited, TV_AGENT);
        assert.equal((await tv.get('/sign-in/qr')).statusCode, 200);
        assert.equal((await tv.get('/sign-in/qr/status')).statusCode, 200);
        const refused = await tv.get('/sign-in/qr/status');
        assert.equal(refused.statusCode, 429);
        assert.ok(Number(refused.headers['retry-after']) > 0);
        assert.equal((await tv.get('/sign-in/qr')).statusCode, 429);
        assert.match((await tv.get('/sign-in/qr')).body, /Too many requests/);
      } finally {
        await limited.close();
      }
    });

    it('counts approval pages per user with the API', async () => {
      const limited = await buildTestApp({ RATE_LIMIT_QR_APPROVE_PER_USER: '2' });
      try {
        const who = newUserBody();
        await limited.app.inject({ method: 'POST', url: '/auth/register', payload: who });
        const phone = new Browser(limited, PHONE_AGENT);
        const form = await phone.get('/sign-in');
        await phone.post('/sign-in', { _csrf: csrfOf(form.body), login: who.email, password: who.password });
        const token = (await limited.app.inject({ method: 'POST', url: '/auth/login', payload: { email: who.email, password: who.password } })).json()
          .access_token as string;
        const id = 'A'.repeat(22);
        assert.equal((await limited.app.inject({ url: `/auth/qr-login/${id}/info`, headers: bearer(token) })).statusCode, 404);
        assert.equal((await phone.get(`/qr-login?id=${id}`)).statusCode, 404);
        assert.equal((await phone.get(`/qr-login?id=${id}`)).statusCode, 429);
      } finally {
        await limited.close();
      }
    });
  });
});
