/**
 * Images built to make a QR decoder work hard: small files that decode to many pixels with
 * nothing a decoder can finish early on. The security finding's cases (a 7.5 KB 1-bit
 * checkerboard, noise, a 16-bit interlaced PNG, a huge palette) and photo-like JPEGs with a code
 * in them, for the scan tests and for bench/. Written with Node's zlib and the service's own PNG
 * chunk writer; the JPEGs with jpeg-js.
 */
import { deflateSync } from 'node:zlib';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { encodeMatrix, PNG_SIGNATURE, pngChunk, renderPng } from '../../src/qr-render/render-png.js';

/** PNG colour types. */
const GREY = 0;
const RGB = 2;
const PALETTE = 3;
const RGBA = 6;
const CHANNELS: Record<number, number> = { [GREY]: 1, [RGB]: 3, [PALETTE]: 1, [RGBA]: 4 };

interface PngHeader {
  width: number;
  height: number;
  depth: 1 | 2 | 4 | 8 | 16;
  colourType: number;
  interlaced?: boolean;
}

function ihdr(h: PngHeader): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(h.width, 0);
  header.writeUInt32BE(h.height, 4);
  header[8] = h.depth;
  header[9] = h.colourType;
  header[12] = h.interlaced ? 1 : 0;
  return pngChunk('IHDR', header);
}

const rowBytes = (h: PngHeader, width: number) => Math.ceil((width * (CHANNELS[h.colourType] as number) * h.depth) / 8);

/** Adam7: each pass's first column and row, and steps. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/**
 * The filtered scanlines (filter 0) of an image whose every row is `row(y, width)`, through
 * Adam7's passes when interlaced. Rows are deflated as they are made: a 128 MB image never sits
 * in memory at once.
 */
function imageData(h: PngHeader, row: (y: number, width: number) => Buffer): Buffer {
  const parts: Buffer[] = [];
  const passes = h.interlaced
    ? ADAM7.map(([x0, y0, dx, dy]) => ({
        width: Math.ceil((h.width - x0) / dx),
        rows: Array.from({ length: Math.max(0, Math.ceil((h.height - y0) / dy)) }, (_, i) => y0 + i * dy),
      }))
    : [{ width: h.width, rows: Array.from({ length: h.height }, (_, i) => i) }];
  for (const pass of passes) {
    if (pass.width <= 0) continue;
    for (const y of pass.rows) parts.push(Buffer.from([0]), row(y, pass.width));
  }
  return deflateSync(Buffer.concat(parts), { level: 9 });
}

function png(h: PngHeader, row: (y: number, width: number) => Buffer, extra: Buffer[] = []): Buffer {
  return Buffer.concat([
    PNG_SIGNATURE,
    ihdr(h),
    ...extra,
    pngChunk('IDAT', imageData(h, row)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A 1-bit black-and-white checkerboard of `cell`-pixel squares: ~7.5 KB at 4000 × 4000. */
export function checkerboardPng(side: number, cell = 1): Buffer {
  const h: PngHeader = { width: side, height: side, depth: 1, colourType: GREY };
  const rows = [0, 1].map((phase) => {
    const line = Buffer.alloc(rowBytes(h, side));
    for (let x = 0; x < side; x++) if ((Math.floor(x / cell) + phase) % 2 === 0) line[x >> 3] = (line[x >> 3] as number) | (0x80 >> (x & 7));
    return line;
  });
  return png(h, (y) => rows[Math.floor(y / cell) % 2] as Buffer);
}

/** Deterministic pseudo-random bytes (xorshift32): the same image on every run. */
function noiseBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

/** 1-bit random black and white pixels: incompressible, side² / 8 bytes (500 KB at 2000 × 2000). */
export function noisePng(side: number, seed = 7): Buffer {
  const h: PngHeader = { width: side, height: side, depth: 1, colourType: GREY };
  const bytes = noiseBytes(rowBytes(h, side) * side, seed);
  const stride = rowBytes(h, side);
  return png(h, (y) => bytes.subarray(y * stride, (y + 1) * stride));
}

/** 16 bits a channel, RGBA, Adam7-interlaced, one flat grey: ~124 KB at 4000 × 4000 (128 MB of samples). */
export function interlaced16BitPng(side: number): Buffer {
  const h: PngHeader = { width: side, height: side, depth: 16, colourType: RGBA, interlaced: true };
  const cache = new Map<number, Buffer>();
  return png(h, (_y, width) => {
    let line = cache.get(width);
    if (line === undefined) {
      line = Buffer.alloc(rowBytes(h, width), 0x80);
      cache.set(width, line);
    }
    return line;
  });
}

/** An 8-bit palette image using all 256 entries in diagonal stripes, each pixel one more than the last. */
export function hugePalettePng(side: number): Buffer {
  const h: PngHeader = { width: side, height: side, depth: 8, colourType: PALETTE };
  const palette = Buffer.alloc(256 * 3);
  for (let i = 0; i < 256; i++) palette.set([i, (i * 37) & 0xff, (i * 91) & 0xff], i * 3);
  const base = Buffer.alloc(side + 256);
  for (let x = 0; x < base.length; x++) base[x] = x & 0xff;
  return png(h, (y, width) => base.subarray(y % 256, (y % 256) + width), [pngChunk('PLTE', palette)]);
}

export interface Rgba {
  width: number;
  height: number;
  data: Buffer;
}

/** A badge-like QR code rendered at `scale` px a module, as RGBA. */
export function qrRgba(text: string, scale: number, margin = 4): Rgba {
  const image = PNG.sync.read(renderPng(encodeMatrix(text), { margin, scale }));
  return { width: image.width, height: image.height, data: image.data };
}

/**
 * A photo-like RGBA canvas: a lighting gradient over a woven pattern with grain, so neither the
 * JPEG encoder nor a decoder's binariser finds large flat areas.
 */
export function texturedCanvas(width: number, height: number, seed = 11): Rgba {
  const data = Buffer.alloc(width * height * 4);
  const grain = noiseBytes(width * height, seed);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const light = 150 + 60 * Math.sin((x + y) / (width / 3));
      const weave = 25 * Math.sin(x / 3.1) * Math.sin(y / 2.7);
      const v = Math.max(0, Math.min(255, light + weave + ((grain[y * width + x] as number) - 128) / 14));
      const i = (y * width + x) * 4;
      data[i] = v;
      data[i + 1] = Math.max(0, v - 12);
      data[i + 2] = Math.max(0, v - 30);
      data[i + 3] = 255;
    }
  }
  return { width, height, data };
}

/** Copies `image` onto `canvas` at (x, y), darkening: the code takes the scene's lighting. */
export function paste(canvas: Rgba, image: Rgba, x: number, y: number): void {
  for (let row = 0; row < image.height; row++) {
    for (let col = 0; col < image.width; col++) {
      const from = (row * image.width + col) * 4;
      const to = ((y + row) * canvas.width + x + col) * 4;
      for (let c = 0; c < 3; c++) {
        canvas.data[to + c] = Math.round(((image.data[from + c] as number) / 255) * (210 + ((canvas.data[to + c] as number) - 150) / 4));
      }
    }
  }
}

export const jpegOf = (image: Rgba, quality = 85): Buffer => jpeg.encode(image, quality).data;

export function pngOf(image: Rgba): Buffer {
  const out = new PNG({ width: image.width, height: image.height });
  image.data.copy(out.data);
  return PNG.sync.write(out);
}

/** `image` turned by `degrees` about its centre (bilinear), on a white square large enough to hold it. */
export function rotate(image: Rgba, degrees: number): Rgba {
  const a = (degrees * Math.PI) / 180;
  const [cos, sin] = [Math.cos(a), Math.sin(a)];
  const side = Math.ceil(Math.abs(image.width * cos) + Math.abs(image.height * sin));
  const out = Buffer.alloc(side * side * 4, 255);
  const at = (x: number, y: number, c: number) =>
    x < 0 || y < 0 || x >= image.width || y >= image.height ? 255 : (image.data[(y * image.width + x) * 4 + c] as number);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      // Where this output pixel comes from in the source.
      const dx = x - side / 2;
      const dy = y - side / 2;
      const sx = cos * dx + sin * dy + image.width / 2;
      const sy = -sin * dx + cos * dy + image.height / 2;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      for (let c = 0; c < 3; c++) {
        const top = at(x0, y0, c) * (1 - fx) + at(x0 + 1, y0, c) * fx;
        const bottom = at(x0, y0 + 1, c) * (1 - fx) + at(x0 + 1, y0 + 1, c) * fx;
        out[(y * side + x) * 4 + c] = Math.round(top * (1 - fy) + bottom * fy);
      }
    }
  }
  return { width: side, height: side, data: out };
}
