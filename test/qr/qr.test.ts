import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { type Ecc, encodeMatrix, type QrMatrix, renderPng } from '../../src/qr-render/render-png.js';
import { bearer, buildTestApp, register, signUp, signUpAdmin, login, newUserBody, type TestApp } from '../helpers/app.js';
import { decodePng } from '../helpers/qr-decode.js';

type Session = Awaited<ReturnType<typeof signUp>>;

/** The old service's look: 10 px per module and a quiet zone of 5 modules. */
const BOX_PX = 10;
const BORDER = 5;

/** Dark (true) or light (false) for every pixel of a PNG, whatever its colour type. */
function darkPixels(png: Buffer): { width: number; height: number; dark: boolean[] } {
  const image = PNG.sync.read(png);
  const dark: boolean[] = [];
  for (let i = 0; i < image.data.length; i += 4) {
    const luma = 0.299 * (image.data[i] as number) + 0.587 * (image.data[i + 1] as number) + 0.114 * (image.data[i + 2] as number);
    dark.push(luma < 128);
  }
  return { width: image.width, height: image.height, dark };
}

/**
 * Reads the module grid back from a PNG drawn with `px` pixels per module: every px×px block
 * must be one colour (no blur, no off-by-one scaling). Returns the grid including the border.
 */
function moduleGridOf(png: Buffer, px: number): { side: number; grid: boolean[][] } {
  const { width, height, dark } = darkPixels(png);
  assert.equal(width, height, 'a QR image is square');
  assert.equal(width % px, 0, `the side (${width}) is a whole number of ${px} px modules`);
  const side = width / px;
  const grid: boolean[][] = [];
  for (let r = 0; r < side; r++) {
    const row: boolean[] = [];
    for (let c = 0; c < side; c++) {
      const first = dark[r * px * width + c * px] as boolean;
      for (let y = r * px; y < (r + 1) * px; y++) {
        for (let x = c * px; x < (c + 1) * px; x++) {
          if (dark[y * width + x] !== first) assert.fail(`module (${r}, ${c}) is not one colour at pixel (${x}, ${y})`);
        }
      }
      row.push(first);
    }
    grid.push(row);
  }
  return { side, grid };
}

/** The matrix with a light border of `border` modules, as booleans. */
function gridOfMatrix(matrix: QrMatrix, border: number): boolean[][] {
  const side = matrix.size + 2 * border;
  return Array.from({ length: side }, (_, r) =>
    Array.from({ length: side }, (_, c) => {
      const mr = r - border;
      const mc = c - border;
      if (mr < 0 || mc < 0 || mr >= matrix.size || mc >= matrix.size) return false;
      return matrix.modules[mr * matrix.size + mc] === 1;
    }),
  );
}

// The old service's exact contract: the plain payload (QR_SIGNED=false). Signed badges (the
// default with Ed25519 keys) extend that text; see the suite after this one.
describe('POST /qr/generate', () => {
  let t: TestApp;
  let alice: Session;

  before(async () => {
    t = await buildTestApp({ QR_SIGNED: 'false' });
    alice = await signUp(t.app);
  });
  after(() => t.close());

  const generate = (token?: string) =>
    t.app.inject({ method: 'POST', url: '/qr/generate', headers: token === undefined ? {} : bearer(token) });

  it('refuses a request without a token (401)', async () => {
    const res = await generate();
    assert.equal(res.statusCode, 401);
    assert.equal(typeof res.json().detail, 'string');
    assert.match(String(res.headers['www-authenticate']), /^Bearer/);
  });

  it('refuses a malformed token (401)', async () => {
    const res = await generate('not.a.token');
    assert.equal(res.statusCode, 401);
  });

  it('answers {user_id, qr_code_base64, data} with the legacy payload USER:<id>|EMAIL:<email>|ROLE:<role>', async () => {
    const res = await generate(alice.token);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(Object.keys(body).sort(), ['data', 'qr_code_base64', 'user_id']);
    assert.equal(body.user_id, alice.id);
    assert.equal(body.data, `USER:${alice.id}|EMAIL:${alice.body.email}|ROLE:student`);
    assert.match(body.qr_code_base64, /^[A-Za-z0-9+/]+={0,2}$/, 'plain base64, no data: URL prefix');
  });

  it('draws a PNG that decodes back to exactly the payload', async () => {
    const body = (await generate(alice.token)).json();
    const png = Buffer.from(body.qr_code_base64, 'base64');
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
    assert.equal(decodePng(png).text, body.data);
  });

  it('draws 10 px modules with a 5-module light border, like the old service', async () => {
    const body = (await generate(alice.token)).json();
    const png = Buffer.from(body.qr_code_base64, 'base64');
    const { side, grid } = moduleGridOf(png, BOX_PX);
    const modules = side - 2 * BORDER;
    assert.ok(modules >= 21 && modules <= 177 && (modules - 17) % 4 === 0, `${modules} modules is a QR version's size`);
    const image = PNG.sync.read(png);
    assert.equal(image.width, (modules + 2 * BORDER) * BOX_PX);
    assert.equal(image.height, (modules + 2 * BORDER) * BOX_PX);
    // Module for module what the encoder computes for this payload (error correction M, the
    // Python qrcode package's default), inside a light quiet zone.
    assert.deepEqual(grid, gridOfMatrix(encodeMatrix(body.data, 'M'), BORDER));
  });

  it('stores the PNG on the user: GET /users/me shows it as qr_code', async () => {
    const body = (await generate(alice.token)).json();
    const me = await t.app.inject({ url: '/users/me', headers: bearer(alice.token) });
    assert.equal(me.statusCode, 200);
    assert.equal(me.json().qr_code, body.qr_code_base64);
  });

  it("carries the user's real role and email as stored", async () => {
    const admin = await signUpAdmin(t);
    const teacherBody = newUserBody({ role: 'teacher', email: `Mixed.Case.${Date.now()}@Example.COM` });
    const created = await register(t.app, teacherBody, admin.token);
    assert.equal(created.statusCode, 201, created.body);
    const teacherToken = await login(t.app, teacherBody.email, teacherBody.password);
    const teacher = (await generate(teacherToken)).json();
    assert.equal(teacher.data, `USER:${created.json().id}|EMAIL:${teacherBody.email}|ROLE:teacher`);
    assert.equal(decodePng(Buffer.from(teacher.qr_code_base64, 'base64')).text, teacher.data);

    const own = (await generate(admin.token)).json();
    assert.equal(own.data, `USER:${admin.id}|EMAIL:${admin.body.email}|ROLE:admin`);
  });
});

describe('POST /qr/generate with signed badges (the default)', () => {
  let t: TestApp;
  let alice: Session;

  before(async () => {
    t = await buildTestApp();
    alice = await signUp(t.app);
  });
  after(() => t.close());

  it("starts the payload with the old USER|EMAIL|ROLE text, so the old scanners still read it", async () => {
    const res = await t.app.inject({ method: 'POST', url: '/qr/generate', headers: bearer(alice.token) });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.user_id, alice.id);
    assert.ok(
      body.data.startsWith(`USER:${alice.id}|EMAIL:${alice.body.email}|ROLE:student|`),
      `legacy fields first: ${body.data}`,
    );
    const png = Buffer.from(body.qr_code_base64, 'base64');
    assert.equal(decodePng(png).text, body.data);
    // Still 10 px modules and a 5-module border, module for module the encoder's matrix.
    assert.deepEqual(moduleGridOf(png, BOX_PX).grid, gridOfMatrix(encodeMatrix(body.data, 'M'), BORDER));
    const me = await t.app.inject({ url: '/users/me', headers: bearer(alice.token) });
    assert.equal(me.json().qr_code, body.qr_code_base64);
  });
});

describe('GET /qr/{user_id}', () => {
  let t: TestApp;
  let alice: Session;
  let bob: Session;
  let carol: Session;
  let admin: Session;
  let aliceQr: { user_id: string; qr_code_base64: string; data: string };

  const read = (id: string, token?: string) =>
    t.app.inject({ url: `/qr/${id}`, headers: token === undefined ? {} : bearer(token) });

  before(async () => {
    t = await buildTestApp();
    alice = await signUp(t.app);
    bob = await signUp(t.app);
    carol = await signUp(t.app);
    admin = await signUpAdmin(t);
    // Carol's code is read before it exists; Alice's and Bob's are generated.
    const generated = await t.app.inject({ method: 'POST', url: '/qr/generate', headers: bearer(alice.token) });
    assert.equal(generated.statusCode, 200);
    aliceQr = generated.json();
    const bobs = await t.app.inject({ method: 'POST', url: '/qr/generate', headers: bearer(bob.token) });
    assert.equal(bobs.statusCode, 200);
  });
  after(() => t.close());

  it('refuses a request without a token (401)', async () => {
    const res = await read(alice.id);
    assert.equal(res.statusCode, 401);
  });

  it('gives a user their own stored code: the same PNG and payload', async () => {
    const res = await read(alice.id, alice.token);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), aliceQr);
  });

  it("lets an admin read anyone's code", async () => {
    const res = await read(alice.id, admin.token);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), aliceQr);
  });

  it("refuses another student's code (403)", async () => {
    const res = await read(alice.id, bob.token);
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().code, 'FORBIDDEN');
    assert.ok(!res.body.includes(aliceQr.qr_code_base64));
  });

  it('answers 404 "QR code not generated for this user" before /qr/generate', async () => {
    for (const token of [carol.token, admin.token]) {
      const res = await read(carol.id, token);
      assert.equal(res.statusCode, 404);
      assert.equal(res.json().detail, 'QR code not generated for this user');
      assert.equal(res.json().code, 'QR_NOT_GENERATED');
    }
  });

  it('answers 422 for an id that is not 24 hex characters', async () => {
    for (const bad of ['not-an-id', '123', `${alice.id}0`, 'zzzzzzzzzzzzzzzzzzzzzzzz']) {
      const res = await read(bad, alice.token);
      assert.equal(res.statusCode, 422, `${bad}: ${res.body}`);
      assert.ok(Array.isArray(res.json().detail), 'FastAPI-shaped validation error');
      assert.equal(res.json().detail[0].loc[0], 'path');
    }
  });

  it('answers 404 to an admin for an id no user has', async () => {
    const unknown = alice.id.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    const res = await read(unknown, admin.token);
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().detail, 'User not found');
  });

  it('accepts the id in uppercase hex', async () => {
    const mine = await read(alice.id.toUpperCase(), alice.token);
    assert.equal(mine.statusCode, 200, mine.body);
    assert.deepEqual(mine.json(), aliceQr);
    const asAdmin = await read(alice.id.toUpperCase(), admin.token);
    assert.equal(asAdmin.statusCode, 200, asAdmin.body);
    assert.equal(asAdmin.json().user_id, alice.id);
  });
});

describe('renderPng', () => {
  const payloads: [string, string][] = [
    ['a short payload', 'hi'],
    ['a ~500 character payload', Array.from({ length: 50 }, (_, i) => `item-${i}:ok`).join('|').padEnd(500, '~')],
    ['UTF-8 text', 'é漢字 ünïcødé ✓'],
    ['the legacy payload', 'USER:6916cbc709d9eedb316de5c3|EMAIL:alice@example.com|ROLE:student'],
  ];
  const levels: Ecc[] = ['L', 'M', 'Q', 'H'];

  for (const [what, payload] of payloads) {
    it(`draws ${what} so that it decodes exactly, at every error correction level`, () => {
      for (const ecc of levels) {
        const matrix = encodeMatrix(payload, ecc);
        const png = renderPng(matrix, { margin: 4 });
        const decoded = decodePng(png);
        assert.equal(decoded.text, payload, `ecc ${ecc}`);
        assert.equal(decoded.width, (matrix.size + 8) * 10, `ecc ${ecc}: 10 px per module by default`);
      }
    });
  }

  it("draws the same modules as node-qrcode's own PNG renderer", async () => {
    for (const [, payload] of payloads) {
      for (const ecc of levels) {
        for (const margin of [0, 4, 5]) {
          const ours = renderPng(encodeMatrix(payload, ecc), { margin, scale: 10 });
          const theirs = await QRCode.toBuffer(payload, { type: 'png', errorCorrectionLevel: ecc, margin, scale: 10 });
          const a = moduleGridOf(ours, 10);
          const b = moduleGridOf(theirs, 10);
          assert.equal(a.side, b.side, `${ecc}/${margin}: same size`);
          assert.deepEqual(a.grid, b.grid, `${ecc}/${margin}: same modules for ${JSON.stringify(payload.slice(0, 20))}`);
          if (margin > 0) assert.equal(decodePng(theirs).text, decodePng(ours).text);
        }
      }
    }
  });

  it('fits any pixel size exactly and still decodes', () => {
    const payload = 'USER:6916cbc709d9eedb316de5c3|EMAIL:alice@example.com|ROLE:student';
    const matrix = encodeMatrix(payload, 'M');
    for (const size of [matrix.size + 8, 257, 333, 1000]) {
      const png = renderPng(matrix, { margin: 4, size });
      const image = PNG.sync.read(png);
      assert.equal(image.width, size);
      assert.equal(image.height, size);
      // One pixel per module is exact but too small for a camera-style decoder to promise.
      if (size >= 3 * (matrix.size + 8)) assert.equal(decodePng(png).text, payload, `size ${size}`);
    }
  });
});
