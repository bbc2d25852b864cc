import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { AppError } from '../../src/errors.js';
import { createQrScanner } from '../../src/qr/qr-scan.js';
import { encodeMatrix, PNG_SIGNATURE, pngChunk, renderPng } from '../../src/qr-render/render-png.js';
import { decodeQr } from '../../src/qr/scan-decode.js';
import { readImageHeader } from '../../src/qr/image-header.js';
import { createBudgetSlot } from '../../src/workers/cpu-budget.js';
import { createCpuPool } from '../../src/workers/cpu-pool.js';
import { bearer, buildTestApp, signUp, type TestApp } from '../helpers/app.js';
import {
  checkerboardPng,
  hugePalettePng,
  interlaced16BitPng,
  jpegOf,
  noisePng,
  paste,
  texturedCanvas,
} from '../helpers/crafted-images.js';

type Session = Awaited<ReturnType<typeof signUp>>;

interface Rgba {
  width: number;
  height: number;
  data: Buffer;
}

const readPng = (png: Buffer): Rgba => {
  const image = PNG.sync.read(png);
  return { width: image.width, height: image.height, data: image.data };
};

function writePng(image: Rgba): Buffer {
  const png = new PNG({ width: image.width, height: image.height });
  image.data.copy(png.data);
  return PNG.sync.write(png);
}

/** A photo-like JPEG of the same pixels (lossy, quality 85). */
const toJpeg = (image: Rgba) => jpeg.encode({ width: image.width, height: image.height, data: image.data }, 85).data;

/** Two images side by side on a white canvas. */
function sideBySide(a: Rgba, b: Rgba): Rgba {
  const width = a.width + b.width;
  const height = Math.max(a.height, b.height);
  const data = Buffer.alloc(width * height * 4, 255);
  for (let y = 0; y < a.height; y++) a.data.copy(data, y * width * 4, y * a.width * 4, (y + 1) * a.width * 4);
  for (let y = 0; y < b.height; y++) b.data.copy(data, (y * width + a.width) * 4, y * b.width * 4, (y + 1) * b.width * 4);
  return { width, height, data };
}

/** A well-formed PNG that claims `width` × `height` RGBA pixels and holds `inflated` bytes of zeros. */
function bombPng(width: number, height: number, options: { interlaced?: boolean; inflated?: number } = {}): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = 6;
  header[12] = options.interlaced ? 1 : 0;
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(Buffer.alloc(options.inflated ?? 64 * 1024))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A JPEG whose frame header (SOF0) is patched to claim `width` × `height`. */
function bombJpeg(small: Buffer, width: number, height: number): Buffer {
  const bytes = Buffer.from(small);
  for (let i = 2; i < bytes.length - 9; ) {
    if (bytes[i] !== 0xff) throw new Error('not at a marker');
    const marker = bytes[i + 1] as number;
    if (marker === 0xc0) {
      bytes.writeUInt16BE(height, i + 5);
      bytes.writeUInt16BE(width, i + 7);
      return bytes;
    }
    i += 2 + bytes.readUInt16BE(i + 2);
  }
  throw new Error('no SOF0');
}

function multipart(field: string, filename: string, type: string, content: Buffer) {
  const boundary = '----authqr-test-boundary';
  const body = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="desk"\r\n\r\nfront-door\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`,
    ),
    content,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

describe('POST /qr/scan', () => {
  let t: TestApp;
  let alice: Session;
  let badge: { data: string; png: Buffer };

  const scan = (body: Buffer | string, contentType: string, token: string | null = alice.token) =>
    t.app.inject({
      method: 'POST',
      url: '/qr/scan',
      payload: body,
      headers: { 'content-type': contentType, ...(token === null ? {} : bearer(token)) },
    });
  const expectError = (res: Awaited<ReturnType<typeof scan>>, status: number, code: string) => {
    assert.equal(res.statusCode, status, res.body);
    assert.equal(res.json().code, code, res.body);
    assert.equal(typeof res.json().detail, 'string');
  };

  before(async () => {
    t = await buildTestApp();
    alice = await signUp(t.app);
    const generated = await t.app.inject({ method: 'POST', url: '/qr/generate', headers: bearer(alice.token) });
    badge = { data: generated.json().data, png: Buffer.from(generated.json().qr_code_base64, 'base64') };
  });
  after(() => t.close());

  it('reads a PNG of a badge and answers what /qr/verify answers, with the text found', async () => {
    const res = await scan(badge.png, 'image/png');
    assert.equal(res.statusCode, 200, res.body);
    const verified = await t.app.inject({ method: 'POST', url: '/qr/verify', payload: { data: badge.data } });
    assert.deepEqual(res.json(), { ...verified.json(), data: badge.data });
    assert.equal(res.json().valid, true);
    assert.equal(res.json().user_id, alice.id);
  });

  it('reads a JPEG (lossy, as a camera sends)', async () => {
    const res = await scan(toJpeg(readPng(badge.png)), 'image/jpeg');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().data, badge.data);
    assert.equal(res.json().valid, true);
  });

  it('reads a multipart/form-data upload with a "file" field', async () => {
    for (const [type, bytes] of [
      ['image/png', badge.png],
      ['image/jpeg', toJpeg(readPng(badge.png))],
      ['application/octet-stream', badge.png],
    ] as const) {
      const { body, contentType } = multipart('file', 'badge', type, bytes);
      const res = await scan(body, contentType);
      assert.equal(res.statusCode, 200, `${type}: ${res.body}`);
      assert.equal(res.json().valid, true);
    }
    const noFile = multipart('photo', 'badge.png', 'image/png', badge.png);
    expectError(await scan(noFile.body, noFile.contentType), 422, 'FILE_REQUIRED');
    const text = multipart('file', 'notes.txt', 'text/plain', Buffer.from('hello'));
    expectError(await scan(text.body, text.contentType), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers a verdict for any QR: an old plain code is unsigned', async () => {
    const legacy = `USER:${alice.id}|EMAIL:${alice.body.email}|ROLE:admin`;
    const res = await scan(renderPng(encodeMatrix(legacy), { margin: 4 }), 'image/png');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().valid, false);
    assert.equal(res.json().reason, 'unsigned');
    assert.equal(res.json().data, legacy);
  });

  it('answers 422 NO_QR_FOUND for an image without a QR code', async () => {
    const blank = { width: 300, height: 200, data: Buffer.alloc(300 * 200 * 4, 255) };
    expectError(await scan(writePng(blank), 'image/png'), 422, 'NO_QR_FOUND');
    expectError(await scan(toJpeg(blank), 'image/jpeg'), 422, 'NO_QR_FOUND');
  });

  it('answers 422 MULTIPLE_QR for two QR codes side by side', async () => {
    const other = readPng(renderPng(encodeMatrix('a second code, not a badge'), { margin: 5, scale: 10 }));
    const two = sideBySide(readPng(badge.png), other);
    expectError(await scan(writePng(two), 'image/png'), 422, 'MULTIPLE_QR');
    expectError(await scan(toJpeg(two), 'image/jpeg'), 422, 'MULTIPLE_QR');
  });

  it('answers 422 INVALID_IMAGE for corrupt or truncated files', async () => {
    const truncated = badge.png.subarray(0, Math.floor(badge.png.length / 2));
    const garbledPng = Buffer.concat([badge.png.subarray(0, 33), Buffer.alloc(200, 0x5a)]);
    const jpegBytes = toJpeg(readPng(badge.png));
    for (const [bytes, type] of [
      [truncated, 'image/png'],
      [garbledPng, 'image/png'],
      [Buffer.from('definitely not an image'), 'image/png'],
      [Buffer.alloc(0), 'image/png'],
      [jpegBytes.subarray(0, 40), 'image/jpeg'],
      [Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(100, 0x11)]), 'image/jpeg'],
    ] as const) {
      expectError(await scan(bytes, type), 422, 'INVALID_IMAGE');
    }
  });

  it('answers 413 for an upload over 5 MiB, raw or multipart', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024 + 1, 0);
    badge.png.copy(big);
    expectError(await scan(big, 'image/png'), 413, 'PAYLOAD_TOO_LARGE');
    const { body, contentType } = multipart('file', 'big.png', 'image/png', big);
    expectError(await scan(body, contentType), 413, 'PAYLOAD_TOO_LARGE');
  });

  it('refuses a decompression bomb by its header, before decoding a pixel', async () => {
    const png = bombPng(50_000, 50_000);
    assert.ok(png.length < 1024, `${png.length} bytes claiming 2.5 gigapixels`);
    expectError(await scan(png, 'image/png'), 422, 'IMAGE_TOO_LARGE');
    // Interlaced PNGs are inflated by pngjs without a cap: the service caps them by the header.
    const interlaced = bombPng(100, 100, { interlaced: true, inflated: 64 * 1024 * 1024 });
    assert.ok(interlaced.length < 100 * 1024, `${interlaced.length} bytes inflating to 64 MiB`);
    expectError(await scan(interlaced, 'image/png'), 422, 'INVALID_IMAGE');
    const small = toJpeg({ width: 16, height: 16, data: Buffer.alloc(16 * 16 * 4, 255) });
    expectError(await scan(bombJpeg(small, 60_000, 60_000), 'image/jpeg'), 422, 'IMAGE_TOO_LARGE');
  });

  it('refuses a PNG whose data inflates past its header, interlaced or not', async () => {
    // The decoder (stb_image) would grow its buffer for as long as the data goes on.
    const plain = bombPng(100, 100, { inflated: 64 * 1024 * 1024 });
    assert.ok(plain.length < 100 * 1024, `${plain.length} bytes inflating to 64 MiB`);
    expectError(await scan(plain, 'image/png'), 422, 'INVALID_IMAGE');
  });

  it('answers 422 INVALID_IMAGE for a PNG with too little data for its header', async () => {
    const header = Buffer.alloc(13);
    header.writeUInt32BE(100, 0);
    header.writeUInt32BE(100, 4);
    header[8] = 8;
    const short = Buffer.concat([
      PNG_SIGNATURE,
      pngChunk('IHDR', header),
      pngChunk('IDAT', deflateSync(Buffer.alloc(50 * 101))),
      pngChunk('IEND', Buffer.alloc(0)),
    ]);
    expectError(await scan(short, 'image/png'), 422, 'INVALID_IMAGE');
  });

  it('reads the badge in a photo-like JPEG (textured, lit unevenly, 3 MP)', async () => {
    const photo = texturedCanvas(2000, 1500);
    paste(photo, readPng(badge.png), 800, 500);
    const res = await scan(jpegOf(photo, 80), 'image/jpeg');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().data, badge.data);
  });

  it('answers 415 for other content types', async () => {
    expectError(await scan('hello', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await scan(badge.png, 'image/gif'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await scan(JSON.stringify({ data: badge.data }), 'application/json'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('needs a bearer token (401): decoding images is too costly to offer anonymously', async () => {
    const res = await scan(badge.png, 'image/png', null);
    assert.equal(res.statusCode, 401);
  });

  it('is in the OpenAPI document with the image and multipart content types', async () => {
    const spec = (await t.app.inject({ url: '/openapi.json' })).json();
    for (const path of ['/qr/scan', '/qr/verify']) assert.ok(spec.paths[path]?.post, path);
    assert.deepEqual(Object.keys(spec.paths['/qr/scan'].post.requestBody.content).sort(), [
      'image/jpeg',
      'image/png',
      'multipart/form-data',
    ]);
    assert.ok(spec.paths['/auth/qr-login/start']?.post);
  });
});

describe('POST /qr/scan with hostile images (security finding: one small image stopped the service)', () => {
  let t: TestApp;
  let token: string;
  const scan = (body: Buffer, contentType = 'image/png') =>
    t.app.inject({ method: 'POST', url: '/qr/scan', payload: body, headers: { 'content-type': contentType, ...bearer(token) } });

  /** Liveness answers that arrive while `scan` is still in flight. */
  async function livenessAnswersDuring(inFlight: Promise<unknown>): Promise<number> {
    let done = false;
    void inFlight.finally(() => {
      done = true;
    });
    let answered = 0;
    while (!done) {
      // inject() never leaves the loop's microtasks: give the loop a turn, as a socket would.
      await new Promise((resolve) => setImmediate(resolve));
      const res = await t.app.inject({ url: '/health/live' });
      assert.equal(res.statusCode, 200);
      if (!done) answered += 1;
    }
    return answered;
  }

  before(async () => {
    t = await buildTestApp();
    token = (await signUp(t.app)).token;
  });
  after(() => t.close());

  const hostile: [string, () => Buffer][] = [
    ['a 4000×4000 1-bit checkerboard (7.5 KB)', () => checkerboardPng(4000)],
    ['a 2000×2000 checkerboard of 4 px squares', () => checkerboardPng(2000, 4)],
    ['2000×2000 pixels of 1-bit noise', () => noisePng(2000)],
    ['a 4000×4000 image using a 256-colour palette', () => hugePalettePng(4000)],
  ];
  for (const [name, make] of hostile) {
    it(`keeps /health/live answering while it reads ${name}, then refuses it with a 422`, async () => {
      const png = make();
      const pending = scan(png);
      // On the event loop, the decode let no liveness request through until it was done.
      assert.ok((await livenessAnswersDuring(pending)) >= 3, 'liveness answered while the image was read');
      const res = await pending;
      assert.equal(res.statusCode, 422, res.body);
      assert.ok(['NO_QR_FOUND', 'IMAGE_TOO_COMPLEX'].includes(res.json().code), res.body);
    });
  }

  it('refuses a 16-bit interlaced 4000×4000 PNG (~130 KB, 128 MB of samples) by its header, before decoding', async () => {
    const png = interlaced16BitPng(4000);
    assert.ok(png.length < 200 * 1024, `${png.length} bytes`);
    const res = await scan(png);
    assert.equal(res.statusCode, 422, res.body);
    assert.equal(res.json().code, 'IMAGE_TOO_LARGE');
    assert.match(res.json().detail, /MB/);
  });
});

describe('the QR scanner: budgets and queue', () => {
  const pools: ReturnType<typeof createCpuPool>[] = [];
  const poolOf = (maxThreads: number) => {
    const pool = createCpuPool({ maxThreads });
    pools.push(pool);
    return pool;
  };
  after(() => Promise.all(pools.map((p) => p.close())));
  const badge = renderPng(encodeMatrix('USER:1|EMAIL:a@example.com|ROLE:student'), { margin: 4 });
  const refusedWith = (code: string, status = 422) => (error: unknown) => {
    assert.ok(error instanceof AppError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.statusCode, status);
    return true;
  };

  it('stops a search that outruns its CPU budget with 422 IMAGE_TOO_COMPLEX, and reads the next image on a fresh worker', async () => {
    const pool = poolOf(1);
    const tight = createQrScanner({ pool, budget: { cpuMs: 30 } });
    await assert.rejects(tight.read(checkerboardPng(4000)), refusedWith('IMAGE_TOO_COMPLEX'));
    assert.equal(await createQrScanner({ pool }).read(badge), 'USER:1|EMAIL:a@example.com|ROLE:student');
  });

  it('refuses an image needing more decode memory than its budget, from the header alone', async () => {
    const scanner = createQrScanner({ pool: poolOf(1), budget: { maxDecodeBytes: 1024 * 1024 } });
    await assert.rejects(scanner.read(renderPng(encodeMatrix('x'), { margin: 4, size: 2000 })), refusedWith('IMAGE_TOO_LARGE'));
  });

  it('answers 429 BUSY with Retry-After once two images per worker are waiting or running', async () => {
    const scanner = createQrScanner({ pool: poolOf(1), budget: { cpuMs: 2000 } });
    const admitted = [scanner.read(badge), scanner.read(badge)];
    await assert.rejects(scanner.read(badge), (error: unknown) => {
      assert.ok(refusedWith('BUSY', 429)(error) && error instanceof AppError);
      assert.equal(error.headers['Retry-After'], '4');
      return true;
    });
    assert.deepEqual(await Promise.all(admitted), Array(2).fill('USER:1|EMAIL:a@example.com|ROLE:student'));
  });

  it('reads with no network: the decoder WebAssembly comes from node_modules, never a CDN', async () => {
    const realFetch = globalThis.fetch;
    globalThis.fetch = () => Promise.reject(new Error('no network in this test'));
    try {
      const header = readImageHeader(badge);
      assert.ok(header !== null);
      const outcome = await decodeQr({ bytes: badge, format: 'png', inflatedBytes: header.inflatedBytes, slot: createBudgetSlot() });
      assert.deepEqual(outcome, { texts: ['USER:1|EMAIL:a@example.com|ROLE:student'] });
    } finally {
      globalThis.fetch = realFetch;
    }
  });
});
