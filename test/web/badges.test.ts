/**
 * The badge pages through app.inject: /badge (make, replace only after asking, download, print)
 * and the checker /check (pasted text, uploaded photo), fed hostile input. Every refusal is a
 * page with a 4xx status that says what is wrong, never a 5xx, and nothing is half-written.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { buildTestApp, newUserBody, register, type TestApp } from '../helpers/app.js';
import { pngOf, texturedCanvas } from '../helpers/crafted-images.js';
import { decodePng, decodeSvg } from '../helpers/qr-decode.js';

/** A browser's cookies for one app, and the CSRF token of the last page read. */
class Visitor {
  private cookies = new Map<string, string>();
  csrf = '';
  constructor(private readonly t: TestApp) {}

  private keep(res: LightMyRequestResponse) {
    for (const c of res.cookies as { name: string; value: string }[]) this.cookies.set(c.name, c.value);
    const token = /name="_csrf" value="([^"]+)"/.exec(res.body)?.[1];
    if (token !== undefined) this.csrf = token;
    return res;
  }

  get cookie() {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async get(url: string) {
    return this.keep(await this.t.app.inject({ url, headers: { accept: 'text/html', cookie: this.cookie } }));
  }

  async post(url: string, form: Record<string, string | string[]>, options: { csrf?: boolean } = {}) {
    const body = new URLSearchParams();
    for (const [name, value] of Object.entries({ ...(options.csrf === false ? {} : { _csrf: this.csrf }), ...form })) {
      for (const v of Array.isArray(value) ? value : [value]) body.append(name, v);
    }
    return this.keep(
      await this.t.app.inject({
        method: 'POST',
        url,
        headers: { accept: 'text/html', cookie: this.cookie, 'content-type': 'application/x-www-form-urlencoded' },
        payload: body.toString(),
      }),
    );
  }

  async postRaw(url: string, payload: Buffer | string, contentType: string) {
    return this.keep(
      await this.t.app.inject({ method: 'POST', url, headers: { accept: 'text/html', cookie: this.cookie, 'content-type': contentType }, payload }),
    );
  }
}

type Part = { name: string; value: string } | { name: string; filename: string; type: string; data: Buffer };

function multipart(parts: Part[], boundary = 'badge-test-boundary'): { payload: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const head =
      'filename' in part
        ? `Content-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\nContent-Type: ${part.type}\r\n`
        : `Content-Disposition: form-data; name="${part.name}"\r\n`;
    chunks.push(Buffer.from(`--${boundary}\r\n${head}\r\n`), 'filename' in part ? part.data : Buffer.from(part.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

async function signIn(t: TestApp) {
  const who = newUserBody();
  assert.equal((await register(t.app, who)).statusCode, 201);
  const visitor = new Visitor(t);
  await visitor.get('/sign-in');
  const res = await visitor.post('/sign-in', { login: who.username, password: who.password, next: '/' });
  assert.equal(res.statusCode, 303, res.body);
  const user = await t.users.findByLogin(who.username);
  assert.ok(user);
  return { visitor, who, id: user.id };
}

/** What an error page must be: a 4xx page that names the problem. */
function assertRefused(res: LightMyRequestResponse, status: number, text: RegExp) {
  assert.equal(res.statusCode, status, res.body.slice(0, 400));
  assert.match(String(res.headers['content-type']), /^text\/html/);
  assert.match(res.body, text);
}

const verdictOf = (body: string) => /<section class="verdict (valid|invalid)"[^>]*data-reason="([^"]*)"/.exec(body)?.slice(1) ?? null;

describe('the badge page (/badge)', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('sends a signed-out visitor to sign in, coming back here', async () => {
    const res = await new Visitor(t).get('/badge');
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/sign-in?next=%2Fbadge');
    for (const url of ['/badge/badge.png', '/badge/badge.svg', '/badge/print', '/badge/new']) {
      assert.equal((await new Visitor(t).get(url)).statusCode, 303, url);
    }
  });

  it('offers to make a badge when there is none; the image routes say there is none yet', async () => {
    const { visitor } = await signIn(t);
    const res = await visitor.get('/badge');
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /You have no badge yet/);
    assert.match(res.body, /<button type="submit">Make my badge<\/button>/);
    assertRefused(await visitor.get('/badge/badge.png'), 404, /You have no badge yet/);
    assert.equal((await visitor.get('/badge/print')).headers.location, '/badge');
  });

  it('makes nothing without the form token (or with a wrong one)', async () => {
    const { visitor, id } = await signIn(t);
    await visitor.get('/badge');
    assertRefused(await visitor.post('/badge', {}, { csrf: false }), 403, /This form cannot be sent/);
    assertRefused(await visitor.post('/badge', { _csrf: 'x'.repeat(43) }, { csrf: false }), 403, /This form cannot be sent/);
    assertRefused(await visitor.post('/badge', { _csrf: [visitor.csrf, visitor.csrf] }, { csrf: false }), 403, /This form cannot be sent/);
    assert.equal((await t.store.findUserById(id))?.qrCode, null, 'no badge made');
  });

  it('makes the badge, shows it large with a text alternative, and downloads it as PNG and SVG', async () => {
    const { visitor, who } = await signIn(t);
    await visitor.get('/badge');
    const made = await visitor.post('/badge', {});
    assert.equal(made.statusCode, 303);
    assert.equal(made.headers.location, '/badge?made=first');
    const page = await visitor.get('/badge?made=first');
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Your badge is ready/);
    assert.match(page.body, new RegExp(`<div class="badge-qr" role="img" aria-label="QR code of the badge of ${who.full_name}"><svg `));
    const data = /<p class="mono badge-text">([^<]+)<\/p>/.exec(page.body)?.[1];
    assert.ok(data !== undefined && data.startsWith('USER:'), 'the badge text is on the page');

    const png = await visitor.get('/badge/badge.png');
    assert.equal(png.statusCode, 200);
    assert.equal(png.headers['content-type'], 'image/png');
    assert.equal(png.headers['content-disposition'], `attachment; filename="badge-${who.username}.png"`);
    assert.equal(decodePng(png.rawPayload).text, data.replaceAll('&#39;', "'"));
    const svg = await visitor.get('/badge/badge.svg');
    assert.equal(svg.headers['content-type'], 'image/svg+xml');
    assert.equal(svg.headers['content-disposition'], `attachment; filename="badge-${who.username}.svg"`);
    assert.equal(decodeSvg(svg.body).text, decodePng(png.rawPayload).text);

    const print = await visitor.get('/badge/print');
    assert.equal(print.statusCode, 200);
    assert.match(print.body, /<article class="badge-card"/);
    assert.match(print.body, /<dt>Issued<\/dt>/);
    assert.match(print.body, /<dt>Expires<\/dt>/);
  });

  it('replaces a badge only from the confirmation page, which says the old one stops working', async () => {
    const { visitor, id } = await signIn(t);
    await visitor.get('/badge');
    await visitor.post('/badge', {});
    const first = (await t.store.findUserById(id))?.qrIssuedAt;
    assert.ok(first);

    // A stale "make my badge" form (another tab) asks first; so do a junk or repeated confirmation.
    const forms: Record<string, string | string[]>[] = [{}, { replace: 'yes' }, { replace: ['1', '1'] }];
    for (const form of forms) {
      const res = await visitor.post('/badge', form);
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/badge/new');
    }
    assert.equal((await t.store.findUserById(id))?.qrIssuedAt?.getTime(), first.getTime(), 'not replaced');

    const confirm = await visitor.get('/badge/new');
    assert.match(confirm.body, /Your current badge stops working at once/);
    const replaced = await visitor.post('/badge', { replace: '1' });
    assert.equal(replaced.headers.location, '/badge?made=new');
    assert.ok(((await t.store.findUserById(id))?.qrIssuedAt?.getTime() ?? 0) > first.getTime(), 'replaced');
    assert.match((await visitor.get('/badge?made=new')).body, /no longer pass a check/);
  });
});

describe('making a badge shares the per-user limit of POST /qr/generate', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ RATE_LIMIT_QR_SCAN_PER_USER: '2' });
  });
  after(() => t.close());

  it('answers the limit as a page (429, Retry-After) once the API used it up', async () => {
    const { visitor, who } = await signIn(t);
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: who.email, password: who.password } });
    const token = login.json().access_token as string;
    for (let i = 0; i < 2; i++) {
      assert.equal((await t.app.inject({ method: 'POST', url: '/qr/generate', headers: { authorization: `Bearer ${token}` } })).statusCode, 200);
    }
    await visitor.get('/badge/new');
    const res = await visitor.post('/badge', { replace: '1' });
    assertRefused(res, 429, /Too many requests/);
    assert.ok(Number(res.headers['retry-after']) > 0);
  });
});

describe('the badge checker (/check)', () => {
  let t: TestApp;
  let holder: Awaited<ReturnType<typeof signIn>>;
  let badge: { data: string; png: Buffer };

  before(async () => {
    t = await buildTestApp();
    holder = await signIn(t);
    await holder.visitor.get('/badge');
    await holder.visitor.post('/badge', {});
    const png = (await holder.visitor.get('/badge/badge.png')).rawPayload;
    badge = { data: decodePng(png).text, png };
  });
  after(() => t.close());

  it('shows the camera section only to script (hidden), with the decoder given by URL, not loaded', async () => {
    const res = await new Visitor(t).get('/check');
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /<section id="camera-check"[^>]* data-decoder="\/assets\/qr-decoder-[\w-]+\.js" hidden>/);
    const scripts = [...res.body.matchAll(/<script[^>]*src="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(scripts.length, 1);
    assert.match(scripts[0] as string, /^\/assets\/badge-check-/);
    // Signed out: no upload form, a way to sign in instead.
    assert.doesNotMatch(res.body, /action="\/check\/photo"/);
    assert.match(res.body, /sign in<\/a> to check a photo/);
  });

  it("checks a pasted badge's text, signed in or not: VALID with the holder's name", async () => {
    const visitor = new Visitor(t);
    await visitor.get('/check');
    const res = await visitor.post('/check', { data: `  ${badge.data}\n` });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(verdictOf(res.body), ['valid', '']);
    assert.match(res.body, new RegExp(`<dt>Name</dt><dd>${holder.who.username}</dd>`));
    assert.match(res.body, /<title>Valid badge: check a badge/);
  });

  it('says NOT VALID, with the reason in words, for changed, old and foreign texts', async () => {
    const visitor = new Visitor(t);
    await visitor.get('/check');
    const at = badge.data.lastIndexOf('|SIG:') + 10;
    const tampered = badge.data.slice(0, at) + (badge.data[at] === 'A' ? 'B' : 'A') + badge.data.slice(at + 1);
    const cases: [string, string, RegExp][] = [
      [tampered, 'bad_signature', /changed after it was made/],
      [badge.data.replace('ROLE:student', 'ROLE:admin'), 'bad_signature', /changed after it was made/],
      [`USER:${holder.id}|EMAIL:${holder.who.email}|ROLE:student`, 'unsigned', /old unsigned code/],
      ['https://example.com/', 'malformed', /not a badge of this service/],
    ];
    for (const [data, reason, words] of cases) {
      const res = await visitor.post('/check', { data });
      assert.equal(res.statusCode, 200, data);
      assert.deepEqual(verdictOf(res.body), ['invalid', reason], data);
      assert.match(res.body, words);
      assert.match(res.body, /<title>Not valid: check a badge/);
    }
  });

  it('refuses hostile pasted text with a clear page, never a 5xx, and never echoes markup', async () => {
    const visitor = new Visitor(t);
    await visitor.get('/check');
    const empty = await visitor.post('/check', { data: ' \t ' });
    assertRefused(empty, 422, /Enter the badge(&#39;|')s text/);
    assert.match(empty.body, /<title>Error: Check a badge/);
    assert.match(empty.body, /aria-invalid="true"/);
    assertRefused(await visitor.post('/check', {}), 422, /Enter the badge/);
    assertRefused(await visitor.post('/check', { data: [badge.data, badge.data] }), 422, /Enter the badge/);
    const long = await visitor.post('/check', { data: 'U'.repeat(5000) });
    assertRefused(long, 422, /too long to be a badge/);
    assert.doesNotMatch(long.body, /UUUUUUUUUU/, 'not echoed');
    assertRefused(await visitor.post('/check', { data: 'x'.repeat(70 * 1024) }), 413, /too large/);

    for (const data of ['<script>alert(1)</script>', 'USER:"><img src=x onerror=alert(1)>', '\u0000\u0007\u202e', '😀'.repeat(100), 'USER:'.repeat(800)]) {
      const res = await visitor.post('/check', { data });
      assert.equal(res.statusCode, 200, data);
      assert.deepEqual(verdictOf(res.body), ['invalid', 'malformed'], data);
      assert.doesNotMatch(res.body, /<script>alert|<img src=x/);
    }
    // A JSON body with the wrong type reads as a missing field.
    const json = await t.app.inject({
      method: 'POST',
      url: '/check',
      headers: { accept: 'text/html', cookie: visitor.cookie, 'content-type': 'application/json' },
      payload: JSON.stringify({ _csrf: visitor.csrf, data: { $ne: null } }),
    });
    assertRefused(json, 422, /Enter the badge/);
    assertRefused(await visitor.postRaw('/check', 'data=x', 'text/plain'), 415, /does not read/);
    assertRefused(await visitor.post('/check', { data: badge.data }, { csrf: false }), 403, /This form cannot be sent/);
  });

  describe('a photo (POST /check/photo)', () => {
    const upload = (visitor: Visitor, parts: Part[], options: { csrf?: boolean; boundary?: string } = {}) => {
      const body = multipart([...(options.csrf === false ? [] : [{ name: '_csrf', value: visitor.csrf }]), ...parts], options.boundary);
      return visitor.postRaw('/check/photo', body.payload, body.contentType);
    };
    const photo = (data: Buffer, type = 'image/png', name = 'file'): Part => ({ name, filename: 'badge.png', type, data });

    it('is for signed-in users: a signed-out upload goes to sign in, unread', async () => {
      const visitor = new Visitor(t);
      await visitor.get('/check');
      const res = await upload(visitor, [photo(badge.png)]);
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/sign-in?next=%2Fcheck');
    });

    it("reads the badge in the photo: VALID with the holder's name", async () => {
      const { visitor } = await signIn(t);
      const page = await visitor.get('/check');
      assert.match(page.body, /action="\/check\/photo" enctype="multipart\/form-data"/);
      const res = await upload(visitor, [photo(badge.png)]);
      assert.equal(res.statusCode, 200, res.body.slice(0, 500));
      assert.deepEqual(verdictOf(res.body), ['valid', '']);
      assert.match(res.body, new RegExp(`<dd>${holder.who.username}</dd>`));
      // Browsers send unknown files as application/octet-stream: the bytes decide.
      assert.deepEqual(verdictOf((await upload(visitor, [photo(badge.png, 'application/octet-stream')])).body), ['valid', '']);
    });

    it('refuses hostile uploads with a clear page tied to the file field, never a 5xx', async () => {
      const { visitor } = await signIn(t);
      await visitor.get('/check');
      const fileError = (status: number, text: RegExp) => async (res: Promise<LightMyRequestResponse>) => {
        const answer = await res;
        assertRefused(answer, status, text);
        assert.match(answer.body, /<input id="f-file"[^>]*aria-invalid="true"/);
        assert.match(answer.body, /There is a problem/);
      };
      await fileError(422, /not a readable PNG or JPEG/)(upload(visitor, [photo(Buffer.from('this is not an image at all'))]));
      await fileError(422, /not a readable PNG or JPEG/)(upload(visitor, [photo(badge.png.subarray(0, 200))]));
      await fileError(422, /No QR code was found/)(upload(visitor, [photo(pngOf(texturedCanvas(160, 120)))]));
      await fileError(415, /must be a PNG or JPEG/)(upload(visitor, [photo(badge.png, 'image/gif')]));
      await fileError(415, /must be a PNG or JPEG/)(upload(visitor, [photo(badge.png, 'text/html')]));
      await fileError(413, /too large: 5 MiB at most/)(upload(visitor, [photo(Buffer.concat([badge.png, Buffer.alloc(5 * 1024 * 1024)]))]));
      await fileError(413, /one photo at a time/)(upload(visitor, [photo(badge.png), photo(badge.png)]));
      await fileError(422, /Choose a photo/)(upload(visitor, []));
      await fileError(422, /Choose a photo/)(upload(visitor, [photo(Buffer.alloc(0), 'application/octet-stream')]));
      await fileError(422, /Choose a photo/)(upload(visitor, [photo(badge.png, 'image/png', 'picture')]));
      await fileError(413, /more than a photo/)(upload(visitor, Array.from({ length: 9 }, (_, i) => ({ name: `f${i}`, value: 'x' }))));
      // A body cut short, or with no boundary at all.
      const cut = multipart([{ name: '_csrf', value: visitor.csrf }, photo(badge.png)]);
      await fileError(400, /could not be read/)(visitor.postRaw('/check/photo', cut.payload.subarray(0, cut.payload.length - 400), cut.contentType));
      await fileError(400, /could not be read/)(visitor.postRaw('/check/photo', cut.payload, 'multipart/form-data'));
      // The form's token is still required.
      assertRefused(await upload(visitor, [photo(badge.png)], { csrf: false }), 403, /This form cannot be sent/);
      assertRefused(await upload(visitor, [{ name: '_csrf', value: 'forged' }, photo(badge.png)], { csrf: false }), 403, /This form cannot be sent/);
      // A plain form post (no file at all).
      assertRefused(await visitor.post('/check/photo', {}), 422, /Choose a photo/);
    });
  });
});
