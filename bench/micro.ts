/**
 * In-process measurements the HTTP targets are judged against: one argon2id hash's time (the
 * login ceiling) and the QR renderers side by side (ours vs node-qrcode's own PNG and SVG).
 */
import { hash } from '@node-rs/argon2';
import QRCode from 'qrcode';
import { encodeMatrix, renderPng } from '../src/qr-render/render-png.js';
import { renderSvg } from '../src/qr-render/render-svg.js';
import { ARGON2_OPTIONS } from './seed.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Wall times of argon2id hashes (m=19456, t=2, p=1), run one at a time. */
export async function argon2HashTimes(samples = 20): Promise<number[]> {
  await hash('warm-up password', ARGON2_OPTIONS);
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t = performance.now();
    await hash(`bench password ${i}`, ARGON2_OPTIONS);
    times.push(performance.now() - t);
  }
  return times;
}

export { median };

/** argon2id hashes per second with `concurrency` in flight (libuv's pool: 4 threads by default). */
export async function argon2Throughput(concurrency = 4, ms = 2000): Promise<number> {
  let done = 0;
  const end = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, k) => {
      while (performance.now() < end) {
        await hash(`bench password ${k}`, ARGON2_OPTIONS);
        done++;
      }
    }),
  );
  return (done * 1000) / (performance.now() - start);
}

/** Operations per second of `op`, run back to back for about `ms` (after a short warm-up). */
export async function opsPerSecond(op: () => unknown, ms = 1500): Promise<number> {
  const warmEnd = performance.now() + Math.min(300, ms / 5);
  while (performance.now() < warmEnd) await op();
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    await op();
    n++;
    now = performance.now();
  }
  return (n * 1000) / (now - start);
}

export interface RendererComparison {
  ours: number;
  nodeQrcode: number;
}

/** PNG at 10 px a module, 5-module border, matrix included on both sides. */
export async function comparePng(payload: string): Promise<RendererComparison> {
  const nodeQrcode = await opsPerSecond(() => QRCode.toBuffer(payload, { scale: 10, margin: 5 }));
  const ours = await opsPerSecond(() => renderPng(encodeMatrix(payload), { scale: 10, margin: 5 }));
  return { ours, nodeQrcode };
}

export async function compareSvg(payload: string): Promise<RendererComparison> {
  const nodeQrcode = await opsPerSecond(() => QRCode.toString(payload, { type: 'svg', margin: 5 }));
  const ours = await opsPerSecond(() => renderSvg(encodeMatrix(payload), { scale: 10, margin: 5 }));
  return { ours, nodeQrcode };
}
