import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRenderCache } from '../../src/qr-render/render-cache.js';
import { createQrImages } from '../../src/qr-render/qr-images.js';
import { bearer, buildTestApp, signUp, signUpAdmin, type TestApp } from '../helpers/app.js';
import { decodePng, decodeSvg } from '../helpers/qr-decode.js';

type Session = Awaited<ReturnType<typeof signUp>>;

describe('GET /qr/{user_id}/image', () => {
  let t: TestApp;
  let alice: Session;
  let bob: Session;
  let admin: Session;
  let payload: string;
  const image = (query: string, token = alice.token, headers: Record<string, string> = {}, id = alice.id) =>
    t.app.inject({ url: `/qr/${id}/image${query}`, headers: { ...bearer(token), ...headers } });

  before(async () => {
    t = await buildTestApp();
    alice = await signUp(t.app);
    bob = await signUp(t.app);
    admin = await signUpAdmin(t);
    assert.equal((await image('')).statusCode, 404, 'nothing to draw before /qr/generate');
    const generated = await t.app.inject({ method: 'POST', url: '/qr/generate', headers: bearer(alice.token) });
    payload = generated.json().data;
  });
  after(() => t.close());

  it('draws a PNG by default that decodes to the exact payload, 10 px per module', async () => {
    const res = await image('');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'image/png');
    const decoded = decodePng(res.rawPayload);
    assert.equal(decoded.text, payload);
    assert.equal(decoded.width % 10, 0);
  });

  it('draws an SVG that an independent renderer turns back into the payload', async () => {
    const res = await image('?format=svg&size=400');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'image/svg+xml');
    const decoded = decodeSvg(res.body);
    assert.equal(decoded.text, payload);
    assert.equal(decoded.width, 400);
  });

  it('honours size exactly, margin and every error correction level', async () => {
    for (const ecc of ['L', 'M', 'Q', 'H']) {
      const res = await image(`?size=333&margin=2&ecc=${ecc}`);
      assert.equal(res.statusCode, 200, res.body);
      const decoded = decodePng(res.rawPayload);
      assert.equal(decoded.width, 333);
      assert.equal(decoded.height, 333);
      assert.equal(decoded.text, payload);
    }
  });

  it('draws in the colours asked for', async () => {
    const res = await image('?size=300&dark=%231a237e&light=fff8e1');
    const decoded = decodePng(res.rawPayload);
    assert.equal(decoded.text, payload);
    const pixel = (x: number, y: number) => [...decoded.rgba.subarray((y * decoded.width + x) * 4, (y * decoded.width + x) * 4 + 3)];
    assert.deepEqual(pixel(0, 0), [0xff, 0xf8, 0xe1], 'the quiet zone is light');
    const colours = new Set<string>();
    for (let i = 0; i < decoded.rgba.length; i += 4) colours.add(decoded.rgba.subarray(i, i + 3).toString('hex'));
    assert.deepEqual([...colours].sort(), ['1a237e', 'fff8e1']);
  });

  it('sends an ETag and Cache-Control, and 304 for If-None-Match', async () => {
    const first = await image('?format=svg');
    const etag = first.headers.etag as string;
    assert.match(etag, /^"[\w-]+"$/);
    assert.match(String(first.headers['cache-control']), /private/);
    const again = await image('?format=svg', alice.token, { 'if-none-match': etag });
    assert.equal(again.statusCode, 304);
    assert.equal(again.body, '');
    const other = await image('?format=png', alice.token, { 'if-none-match': etag });
    assert.equal(other.statusCode, 200, 'another variant has another ETag');
  });

  it('follows the access rules of GET /qr/{user_id}', async () => {
    assert.equal((await image('', bob.token)).statusCode, 403);
    assert.equal((await image('', admin.token)).statusCode, 200);
    assert.equal((await t.app.inject({ url: `/qr/${alice.id}/image` })).statusCode, 401);
    assert.equal((await image('', admin.token, {}, 'ffffffffffffffffffffffff')).statusCode, 404);
    assert.equal((await image('', admin.token, {}, 'nope')).statusCode, 422);
  });

  it('answers bad options with 422 and the parameter in loc', async () => {
    const cases: [string, string][] = [
      ['?size=20', 'size'],
      ['?size=5000', 'size'],
      ['?size=30', 'size'], // valid number, too small for this code
      ['?margin=21', 'margin'],
      ['?ecc=X', 'ecc'],
      ['?format=gif', 'format'],
      ['?dark=red', 'dark'],
      ['?dark=%23ffffff', 'light'], // white on white: no contrast
      ['?dark=777777&light=888888', 'light'],
    ];
    for (const [query, field] of cases) {
      const res = await image(query);
      assert.equal(res.statusCode, 422, `${query}: ${res.body}`);
      assert.deepEqual(res.json().detail[0].loc, ['query', field], query);
    }
    assert.equal((await image('?extra=1')).statusCode, 200, 'unknown parameters are dropped');
  });
});

describe('POST /qr/encode', () => {
  let t: TestApp;
  let s: Session;
  const encode = (payload: unknown, token = s.token) =>
    t.app.inject({ method: 'POST', url: '/qr/encode', headers: bearer(token), payload: payload as object });

  before(async () => {
    t = await buildTestApp({ QR_ENCODE_RATE_LIMIT: '5' });
    s = await signUp(t.app);
  });
  after(() => t.close());

  it('encodes any text, PNG or SVG, that decodes back exactly', async () => {
    const text = 'WIFI:S:Café 漢字;T:WPA;P:p@ss;;';
    const png = await encode({ data: text });
    assert.equal(png.statusCode, 200);
    assert.equal(decodePng(png.rawPayload).text, text);
    const svg = await encode({ data: text, format: 'svg', size: 256 });
    assert.equal(decodeSvg(svg.body).text, text);
  });

  it('refuses without a token (401), too much data (422) and unknown fields (dropped)', async () => {
    assert.equal((await t.app.inject({ method: 'POST', url: '/qr/encode', payload: { data: 'x' } })).statusCode, 401);
    const tooMuch = await encode({ data: 'x'.repeat(2048), ecc: 'H' });
    assert.equal(tooMuch.statusCode, 422);
    assert.deepEqual(tooMuch.json().detail[0].loc, ['body', 'data']);
    assert.equal((await encode({ data: 'x'.repeat(2049) })).statusCode, 422);
    assert.equal((await encode({ data: '' })).statusCode, 422);
    assert.equal((await encode({ data: { $gt: '' } })).statusCode, 422);
  });

  it('limits each user (429 with Retry-After), and not the next user', async () => {
    const other = await signUp(t.app);
    const codes: number[] = [];
    let limited: Awaited<ReturnType<typeof encode>> | undefined;
    for (let i = 0; i < 8; i++) {
      const res = await encode({ data: `n${i}` }, other.token);
      codes.push(res.statusCode);
      if (res.statusCode === 429) limited = res;
    }
    assert.deepEqual(codes, [200, 200, 200, 200, 200, 429, 429, 429]);
    assert.equal(limited?.json().code, 'RATE_LIMITED');
    assert.ok(Number(limited?.headers['retry-after']) > 0);
    const third = await signUp(t.app);
    assert.equal((await encode({ data: 'fresh' }, third.token)).statusCode, 200);
  });
});

describe('the render cache', () => {
  it('serves the same bytes as a fresh render', () => {
    const cached = createQrImages();
    const options = { format: 'png' as const, margin: 4, ecc: 'Q' as const, size: 290 };
    const first = cached.render('cache me', options, 'body');
    const second = cached.render('cache me', options, 'body');
    assert.equal(second, first, 'the second call is served from the cache');
    const fresh = createQrImages().render('cache me', options, 'body');
    assert.deepEqual(fresh.body, first.body);
    assert.equal(fresh.etag, first.etag);
    assert.equal(decodePng(second.body as Buffer).text, 'cache me');
  });

  it('stays within its entry bound', () => {
    const small = createQrImages({ maxEntries: 3, maxBytes: 1024 * 1024 });
    const options = { format: 'svg' as const, margin: 1, ecc: 'L' as const };
    const first = small.render('a0', options, 'body');
    for (let i = 1; i < 5; i++) small.render(`a${i}`, options, 'body');
    assert.notEqual(small.render('a0', options, 'body'), first, 'the oldest entry was evicted and drawn again');
  });

  it('evicts the least recently used: an old entry that is hit again stays', () => {
    const cache = createRenderCache({ maxEntries: 8, maxBytes: 1024 * 1024 });
    const image = (n: number) => ({ body: `image ${n}`, contentType: 'image/svg+xml', etag: `"${n}"` });
    for (let i = 0; i < 8; i++) cache.set(`k${i}`, image(i));
    assert.equal(cache.get('k0')?.etag, '"0"');
    cache.set('k8', image(8));
    cache.set('k9', image(9));
    assert.equal(cache.size, 8);
    assert.equal(cache.get('k0')?.etag, '"0"', 'hit before the inserts: kept');
    assert.equal(cache.get('k1'), undefined, 'the least recently used went first');
    assert.equal(cache.get('k2'), undefined);
    assert.equal(cache.get('k3')?.etag, '"3"');
  });

  it('keeps images of different options apart, even for payloads holding the separator', () => {
    const images = createQrImages();
    const a = images.render('USER:1|EMAIL:a|ROLE:x', { format: 'svg', margin: 1, ecc: 'L' }, 'body');
    const b = images.render('USER:1|EMAIL:a|ROLE:x', { format: 'svg', margin: 2, ecc: 'L' }, 'body');
    const c = images.render('1|USER:1|EMAIL:a|ROLE:x', { format: 'svg', margin: 1, ecc: 'L' }, 'body');
    assert.notEqual(a.etag, b.etag);
    assert.notEqual(a.etag, c.etag);
  });
});
