/**
 * QR codes as PNG, drawn directly: a QR is two colours, so the image is a 1-bit PNG of the
 * module matrix (greyscale for black on white, a two-entry palette for other colours), deflated
 * with Node's zlib. node-qrcode's own PNG path rasterises a full RGBA bitmap in JavaScript first
 * and is tens of times slower (bench/ measures both). The matrix still comes from `qrcode`.
 */
import { crc32, deflateSync } from 'node:zlib';
// The encoder only: the package's entry also loads its renderers (and pngjs) for nothing.
import { create as createQr } from 'qrcode/lib/core/qrcode.js';

export type Ecc = 'L' | 'M' | 'Q' | 'H';

export interface QrMatrix {
  /** Modules per side. */
  size: number;
  /** Row-major, 1 = dark. */
  modules: Uint8Array;
}

export interface RenderOptions {
  /** Light modules around the symbol (the quiet zone). */
  margin: number;
  /** Pixels per module; used when `size` is not given. */
  scale?: number;
  /** Exact width and height in pixels; modules then span whole pixels as evenly as possible. */
  size?: number;
  /** Colours as 6 hex digits without '#'; default black on white. */
  dark?: string;
  light?: string;
}

export function encodeMatrix(data: string, ecc: Ecc = 'M'): QrMatrix {
  const qr = createQr(data, { errorCorrectionLevel: ecc });
  return { size: qr.modules.size, modules: qr.modules.data };
}

/** The image's side in pixels for these options. */
export function imageSide(matrix: QrMatrix, options: RenderOptions): number {
  return options.size ?? (matrix.size + 2 * options.margin) * (options.scale ?? 10);
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** One PNG chunk: length, type, data, CRC-32 of type and data. */
export function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(head.subarray(4))), 0);
  return Buffer.concat([head, data, crc]);
}

export function renderPng(matrix: QrMatrix, options: RenderOptions): Buffer {
  const { margin } = options;
  const { size, modules } = matrix;
  const total = size + 2 * margin;
  const side = imageSide(matrix, options);
  const rowBytes = Math.ceil(side / 8);
  const stride = rowBytes + 1; // each scanline starts with its filter byte (0: none)

  // Which module column (or row) each pixel falls in; for a whole-number scale, x / scale.
  const moduleAt = new Int32Array(side);
  for (let p = 0; p < side; p++) moduleAt[p] = Math.floor((p * total) / side) - margin;

  // Bit 1 is light (white, or palette entry 1). Start all light, clear the dark pixels.
  const raw = Buffer.alloc(stride * side, 0xff);
  const line = Buffer.alloc(rowBytes);
  let previousRow = Number.NaN;
  for (let y = 0; y < side; y++) {
    raw[y * stride] = 0;
    const r = moduleAt[y] as number;
    if (r < 0 || r >= size) continue; // quiet zone: stays light
    if (r !== previousRow) {
      line.fill(0xff);
      for (let x = 0; x < side; x++) {
        const c = moduleAt[x] as number;
        if (c >= 0 && c < size && modules[r * size + c] === 1) {
          line[x >> 3] = (line[x >> 3] as number) & ~(0x80 >> (x & 7));
        }
      }
      previousRow = r;
    }
    line.copy(raw, y * stride + 1);
  }
  // Bits past the image's width in the last byte of each row stay 1: decoders ignore them.

  const palette = options.dark !== undefined || options.light !== undefined;
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header[8] = 1; // bit depth
  header[9] = palette ? 3 : 0; // colour type: palette, or greyscale
  const chunks = [PNG_SIGNATURE, pngChunk('IHDR', header)];
  if (palette) {
    chunks.push(pngChunk('PLTE', Buffer.from(`${options.dark ?? '000000'}${options.light ?? 'ffffff'}`, 'hex')));
  }
  chunks.push(pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0)));
  return Buffer.concat(chunks);
}
