/**
 * QR codes as PNG, drawn directly: a QR is two colours, so the image is a 1-bit greyscale PNG of
 * the module matrix scaled by whole modules, deflated with Node's zlib. node-qrcode's own PNG
 * path rasterises a full RGBA bitmap in JavaScript first and is tens of times slower
 * (bench/ measures both). The matrix itself still comes from `qrcode`, the standard encoder.
 */
import { crc32, deflateSync } from 'node:zlib';
import QRCode from 'qrcode';

export type Ecc = 'L' | 'M' | 'Q' | 'H';

export interface QrMatrix {
  /** Modules per side. */
  size: number;
  /** Row-major, 1 = dark. */
  modules: Uint8Array;
}

export function encodeMatrix(data: string, ecc: Ecc = 'M'): QrMatrix {
  const qr = QRCode.create(data, { errorCorrectionLevel: ecc });
  return { size: qr.modules.size, modules: qr.modules.data };
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(head.subarray(4))), 0);
  return Buffer.concat([head, data, crc]);
}

/** `scale` pixels per module, `margin` light modules around the symbol (the quiet zone). */
export function renderPng(matrix: QrMatrix, options: { scale: number; margin: number }): Buffer {
  const { scale, margin } = options;
  const { size, modules } = matrix;
  const width = (size + 2 * margin) * scale;
  const rowBytes = Math.ceil(width / 8);
  const stride = rowBytes + 1; // each scanline starts with its filter byte (0: none)
  // 1-bit greyscale: 1 is white. Start all white, then clear the dark modules' bits.
  const raw = Buffer.alloc(stride * width, 0xff);
  for (let y = 0; y < width; y++) raw[y * stride] = 0;

  const line = Buffer.alloc(rowBytes);
  for (let r = 0; r < size; r++) {
    line.fill(0xff);
    for (let c = 0; c < size; c++) {
      if (modules[r * size + c] === 0) continue;
      const x0 = (c + margin) * scale;
      for (let x = x0; x < x0 + scale; x++) line[x >> 3] = (line[x >> 3] as number) & ~(0x80 >> (x & 7));
    }
    const y0 = (r + margin) * scale;
    for (let y = y0; y < y0 + scale; y++) line.copy(raw, y * stride + 1);
  }
  // Bits past the image's width in the last byte of each row stay 1 (white): decoders ignore them.

  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(width, 4);
  header[8] = 1; // bit depth
  header[9] = 0; // colour type: greyscale
  // compression, filter and interlace methods: 0
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
