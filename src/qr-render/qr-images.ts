/**
 * Turning a payload and image options into PNG or SVG bytes, with an ETag, through the cache.
 * Bad options (too small a size, too little contrast, too much data for a QR code) are 422s.
 *
 * Large images are drawn on a CPU worker (workers/cpu-pool.ts), not on the event loop: encoding
 * 2 KB of text (a version-33 symbol) takes ~25 ms of qrcode's mask search and a 2048 px PNG ~5 ms
 * more, during which every other request would wait. A badge at its usual size (~1–2 ms, and
 * served from the cache after its first drawing) stays on the loop when read back, where a
 * worker's round trip would cost more than the drawing (bench/: qr-png uncached); a badge just
 * made (POST /qr/generate: new every time) goes to a worker, so that generates use every core
 * (bench/: qr-generate).
 */
import { createHash } from 'node:crypto';
import { ValidationFailed } from '../errors.js';
import { type CpuPool, cpuPool, type Lane } from '../workers/cpu-pool.js';
import { drawQr, hex, type ImageOptions, type OptionsFrom } from './draw-qr.js';
import { createRenderCache, type RenderedImage } from './render-cache.js';

export type { ImageOptions } from './draw-qr.js';

/** Past either, an image is drawn on a worker: ~1 ms of the loop at most below both (bench/). */
const LARGE_PAYLOAD_BYTES = 256;
const LARGE_SIDE_PX = 1024;
/** Drawings running or waiting at once; each takes milliseconds, so the line clears quickly. */
const DRAW_QUEUE_LIMIT = 32;

export interface QrImages {
  /** On the event loop, whatever the size: for small images only (the TOTP setup's code). */
  render(payload: string, options: ImageOptions, where: OptionsFrom): RenderedImage;
  /**
   * A large image on a CPU worker, a small one on the loop; from the cache either way. `fresh`:
   * a payload just made (a new badge), which no cache holds and which is drawn once per request:
   * on a worker whatever its size, so that a burst of them uses every core, not the loop alone.
   */
  renderOffLoop(payload: string, options: ImageOptions, where: OptionsFrom, fresh?: boolean): Promise<RenderedImage>;
}

const isLarge = (payload: string, options: ImageOptions) =>
  Buffer.byteLength(payload) > LARGE_PAYLOAD_BYTES || (options.size ?? 0) > LARGE_SIDE_PX;

export function createQrImages(
  limits = { maxEntries: 1000, maxBytes: 32 * 1024 * 1024 },
  deps: { pool?: CpuPool } = {},
): QrImages {
  const cache = createRenderCache(limits);
  let lane: Lane | undefined;
  // The pool only when a large image is first asked for: most instances never draw one.
  const drawLane = () =>
    (lane ??= (deps.pool ?? cpuPool()).lane({ priority: 'interactive', maxPending: DRAW_QUEUE_LIMIT, retryAfterSeconds: 1 }));

  function keyOf(payload: string, options: ImageOptions): string {
    // The payload last: no other part can hold a '|' (enums, numbers, hex), so keys are unambiguous.
    return `${options.format}|${options.size ?? ''}|${options.margin}|${options.ecc}|${hex(options.dark) ?? ''}|${hex(options.light) ?? ''}|${payload}`;
  }

  function store(key: string, format: ImageOptions['format'], body: Buffer | string): RenderedImage {
    const image: RenderedImage = {
      body,
      contentType: format === 'svg' ? 'image/svg+xml' : 'image/png',
      etag: `"${createHash('sha256').update(key).digest('base64url').slice(0, 27)}"`,
    };
    cache.set(key, image);
    return image;
  }

  return {
    render(payload, options, where) {
      const key = keyOf(payload, options);
      return cache.get(key) ?? store(key, options.format, drawQr(payload, options, where));
    },

    async renderOffLoop(payload, options, where, fresh = false) {
      const key = keyOf(payload, options);
      const cached = cache.get(key);
      if (cached !== undefined) return cached;
      if (!fresh && !isLarge(payload, options)) return store(key, options.format, drawQr(payload, options, where));
      const drawn = await drawLane().run('drawQrTask', { payload, options, where });
      if ('issues' in drawn) throw new ValidationFailed(drawn.issues);
      // A Buffer arrives from the worker as a plain Uint8Array over the same bytes.
      const body = typeof drawn.body === 'string' ? drawn.body : Buffer.from(drawn.body.buffer, drawn.body.byteOffset, drawn.body.byteLength);
      return store(key, options.format, body);
    },
  };
}
