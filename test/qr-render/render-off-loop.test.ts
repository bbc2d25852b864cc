import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ValidationFailed } from '../../src/errors.js';
import { createQrImages } from '../../src/qr-render/qr-images.js';
import { createCpuPool } from '../../src/workers/cpu-pool.js';
import { decodePng } from '../helpers/qr-decode.js';

describe('drawing large QR images off the event loop', () => {
  const pool = createCpuPool({ maxThreads: 1 });
  after(() => pool.close());
  const big = 'large payload '.repeat(100); // 1,400 bytes: a version-30-odd symbol, ~20 ms to encode

  it('draws a large payload on a CPU worker, with the same bytes the loop would draw', async () => {
    const images = createQrImages(undefined, { pool });
    const options = { format: 'png' as const, margin: 4, ecc: 'L' as const, size: 1200 };
    const offLoop = await images.renderOffLoop(big, options, 'body');
    assert.equal(pool.threads, 1, 'a worker drew it');
    const onLoop = createQrImages().render(big, options, 'body');
    assert.ok(Buffer.isBuffer(offLoop.body));
    assert.deepEqual(offLoop.body, onLoop.body);
    assert.equal(offLoop.etag, onLoop.etag);
    assert.equal(decodePng(offLoop.body as Buffer).text, big);
  });

  it('draws a large size of a small payload on a worker too, and an SVG as text', async () => {
    const images = createQrImages(undefined, { pool });
    const png = await images.renderOffLoop('small', { format: 'png', margin: 4, ecc: 'M', size: 2048 }, 'query');
    assert.equal(decodePng(png.body as Buffer).width, 2048);
    const svg = await images.renderOffLoop(big, { format: 'svg', margin: 4, ecc: 'L' }, 'body');
    assert.equal(typeof svg.body, 'string');
    assert.match(svg.body as string, /^<svg/);
  });

  it('keeps a badge at its usual size on the loop: no worker starts for it', async () => {
    const idle = createCpuPool({ maxThreads: 1 });
    try {
      const images = createQrImages(undefined, { pool: idle });
      await images.renderOffLoop('USER:1|EMAIL:a@example.com|ROLE:student', { format: 'png', margin: 5, ecc: 'M' }, 'query');
      assert.equal(idle.threads, 0);
    } finally {
      await idle.close();
    }
  });

  it('draws a fresh badge (POST /qr/generate) on a worker even at its usual size, and caches it for reading back', async () => {
    const fresh = createCpuPool({ maxThreads: 1 });
    try {
      const images = createQrImages(undefined, { pool: fresh });
      const payload = 'USER:1|EMAIL:a@example.com|ROLE:student|IAT:1';
      const options = { format: 'png' as const, margin: 5, ecc: 'M' as const };
      const drawn = await images.renderOffLoop(payload, options, 'query', true);
      assert.equal(fresh.threads, 1, 'a worker drew it');
      assert.equal(decodePng(drawn.body as Buffer).text, payload);
      assert.equal(images.render(payload, options, 'query'), drawn, 'read back from the cache');
    } finally {
      await fresh.close();
    }
  });

  it('answers a 422 found on the worker with its location, as the loop would', async () => {
    const images = createQrImages(undefined, { pool });
    await assert.rejects(images.renderOffLoop(big, { format: 'png', margin: 4, ecc: 'L', size: 100 }, 'query'), (error: unknown) => {
      assert.ok(error instanceof ValidationFailed);
      assert.deepEqual(error.issues[0]?.loc, ['query', 'size']);
      return true;
    });
  });
});
