/**
 * The images the scan benchmarks send: photo-like JPEGs and PNGs of a badge (textured, unevenly
 * lit scenes, codes of several sizes and angles), one photo without a code, and the security
 * finding's hostile images. Made with test/helpers/crafted-images.ts (deterministic: the same
 * bytes every run) and kept in bench/results/images/, since a 16 MP JPEG takes jpeg-js seconds.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  checkerboardPng,
  hugePalettePng,
  interlaced16BitPng,
  jpegOf,
  noisePng,
  paste,
  pngOf,
  qrRgba,
  rotate,
  type Rgba,
  texturedCanvas,
} from '../test/helpers/crafted-images.js';
import { REPO_ROOT } from './processes.js';

/** A signed badge's length: what the service's codes hold. */
export const BADGE_TEXT =
  'USER:6916cbc709d9eedb316de5c3|EMAIL:alice.martin@example.com|ROLE:student|IAT:1764000000|EXP:1795536000|KID:k1|SIG:' +
  'x'.repeat(86);

export interface BenchImage {
  name: string;
  /** Where it is kept (bench/results/images/). */
  file: string;
  bytes: Buffer;
  /** The text of the code in it; null for an image without one. */
  expect: string | null;
  /** Photos, as a phone sends them; the rest are the hostile images. */
  kind: 'photo' | 'hostile';
}

interface PhotoSpec {
  name: string;
  width: number;
  height: number;
  /** Pixels a module, degrees, position as fractions of the scene. */
  code: { scale: number; angle: number; x: number; y: number } | null;
  format: 'jpeg' | 'png';
  quality?: number;
  seed: number;
}

const PHOTOS: PhotoSpec[] = [
  { name: 'photo 16 MP, large code', width: 4608, height: 3456, code: { scale: 12, angle: 0, x: 0.45, y: 0.35 }, format: 'jpeg', quality: 75, seed: 11 },
  { name: 'photo 16 MP, code turned 20°', width: 4608, height: 3456, code: { scale: 9, angle: 20, x: 0.2, y: 0.5 }, format: 'jpeg', quality: 80, seed: 12 },
  { name: 'photo 12 MP, small code', width: 4000, height: 3000, code: { scale: 5, angle: 0, x: 0.6, y: 0.6 }, format: 'jpeg', quality: 85, seed: 13 },
  { name: 'photo 12 MP, small code turned 45°', width: 4000, height: 3000, code: { scale: 6, angle: 45, x: 0.3, y: 0.2 }, format: 'jpeg', quality: 85, seed: 14 },
  { name: 'photo 8 MP, tiny code', width: 3264, height: 2448, code: { scale: 3, angle: 0, x: 0.5, y: 0.5 }, format: 'jpeg', quality: 90, seed: 15 },
  { name: 'screenshot 4 MP PNG', width: 2400, height: 1600, code: { scale: 8, angle: 0, x: 0.3, y: 0.3 }, format: 'png', seed: 16 },
  { name: 'photo 16 MP, no code', width: 4608, height: 3456, code: null, format: 'jpeg', quality: 80, seed: 17 },
];

/** A screen: light grey with a few dark bars of "text" (a PNG of a photo would pass 5 MiB). */
function screenCanvas(width: number, height: number): Rgba {
  const data = Buffer.alloc(width * height * 4, 238);
  for (let y = 40; y + 12 < height; y += 48) {
    for (let row = y; row < y + 12; row++) data.fill(60, (row * width + 40) * 4, (row * width + Math.floor(width * 0.4)) * 4);
  }
  return { width, height, data };
}

function makePhoto(spec: PhotoSpec): Buffer {
  const scene = spec.format === 'png' ? screenCanvas(spec.width, spec.height) : texturedCanvas(spec.width, spec.height, spec.seed);
  if (spec.code !== null) {
    let code: Rgba = qrRgba(BADGE_TEXT, spec.code.scale);
    if (spec.code.angle !== 0) code = rotate(code, spec.code.angle);
    paste(scene, code, Math.floor(spec.code.x * (spec.width - code.width)), Math.floor(spec.code.y * (spec.height - code.height)));
  }
  return spec.format === 'png' ? pngOf(scene) : jpegOf(scene, spec.quality);
}

const HOSTILE: [string, () => Buffer][] = [
  ['checkerboard 4000² 1-bit', () => checkerboardPng(4000)],
  ['checkerboard 2000² 1-bit', () => checkerboardPng(2000)],
  ['noise 2000² 1-bit', () => noisePng(2000)],
  ['palette 4000² 8-bit', () => hugePalettePng(4000)],
  ['16-bit interlaced 4000²', () => interlaced16BitPng(4000)],
];

const slug = (name: string) => name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();

/** The images, made once and then read from bench/results/images/. */
export function benchImages(options: { photos?: boolean; hostile?: boolean } = {}): BenchImage[] {
  const dir = path.join(REPO_ROOT, 'bench/results/images');
  mkdirSync(dir, { recursive: true });
  const cached = (name: string, ext: string, make: () => Buffer) => {
    const file = path.join(dir, `${slug(name)}.${ext}`);
    if (!existsSync(file)) writeFileSync(file, make());
    return { file, bytes: readFileSync(file) };
  };
  const images: BenchImage[] = [];
  if (options.photos ?? true) {
    for (const spec of PHOTOS) {
      images.push({
        name: spec.name,
        ...cached(spec.name, spec.format === 'png' ? 'png' : 'jpg', () => makePhoto(spec)),
        expect: spec.code === null ? null : BADGE_TEXT,
        kind: 'photo',
      });
    }
  }
  if (options.hostile ?? true) {
    for (const [name, make] of HOSTILE) images.push({ name, ...cached(name, 'png', make), expect: null, kind: 'hostile' });
  }
  return images;
}
