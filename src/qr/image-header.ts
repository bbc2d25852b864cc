/**
 * What decoding an upload would cost, read from its header alone (microseconds, on the event
 * loop) before any worker is asked to decode it: a 100-byte PNG may claim 50,000 × 50,000 pixels,
 * and a 124 KB one 4000 × 4000 pixels of 16-bit RGBA, 128 MB of samples before any conversion.
 */
import { PNG_SIGNATURE } from '../qr-render/render-png.js';

export interface ImageHeader {
  format: 'png' | 'jpeg';
  width: number;
  height: number;
  /** PNG: the exact size of the inflated image data (filter bytes included), for the bomb check. */
  inflatedBytes: number;
  /** About the most memory decoding and searching it holds at once, in bytes (see decodeBytes). */
  decodeBytes: number;
}

/** Samples per pixel of each PNG colour type. */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const PNG_DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
/** Adam7: first column, first row, column step, row step of each pass. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/** Bytes of filtered scanlines (a filter byte each) of a PNG of these properties. */
function pngInflatedBytes(width: number, height: number, bitsPerPixel: number, interlaced: boolean): number {
  const rows = (w: number, h: number) => (w > 0 && h > 0 ? h * (Math.ceil((w * bitsPerPixel) / 8) + 1) : 0);
  if (!interlaced) return rows(width, height);
  return ADAM7.reduce((sum, [x0, y0, dx, dy]) => sum + rows(Math.ceil((width - x0) / dx), Math.ceil((height - y0) / dy)), 0);
}

/**
 * The decoder (zxing-cpp's stb_image, inside WebAssembly) holds the file, its inflated data, the
 * decoded samples (16-bit ones, then their 8-bit copy), a grey copy, and the detector's working
 * images (a binarised copy and downscaled layers): about three more bytes a pixel. The peaks
 * measured by bench/scan-decoders.ts were 15–35 % below these sums: an upper bound, not a guess.
 */
const SEARCH_BYTES_PER_PIXEL = 3;

function readPng(bytes: Buffer): ImageHeader | null {
  // IHDR is always the first chunk.
  if (bytes.length < 33 || bytes.toString('latin1', 12, 16) !== 'IHDR') return null;
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  const depth = bytes[24] as number;
  const colourType = bytes[25] as number;
  const interlace = bytes[28] as number;
  const channels = PNG_CHANNELS[colourType];
  if (channels === undefined || !PNG_DEPTHS[colourType]?.includes(depth) || interlace > 1) return null;
  const pixels = width * height;
  const inflatedBytes = pngInflatedBytes(width, height, channels * depth, interlace === 1);
  // Palette images expand to RGB(A); 16-bit samples are decoded, then copied to 8 bits.
  const outChannels = colourType === 3 ? 4 : channels;
  const samples = pixels * outChannels * (depth === 16 ? 3 : 1);
  return {
    format: 'png',
    width,
    height,
    inflatedBytes,
    decodeBytes: 2 * bytes.length + inflatedBytes + samples + pixels * (1 + SEARCH_BYTES_PER_PIXEL),
  };
}

/** Start-of-frame markers: baseline, extended, progressive, lossless (Huffman and arithmetic). */
const SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);
const PROGRESSIVE = new Set([0xc2, 0xc6, 0xca, 0xce]);

function readJpeg(bytes: Buffer): ImageHeader | null {
  for (let at = 2; at + 4 <= bytes.length; ) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1] as number;
    // Fill bytes, and markers without a length.
    if (marker === 0xff) {
      at += 1;
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd9)) {
      at += 2;
      continue;
    }
    const length = bytes.readUInt16BE(at + 2);
    if (SOF.has(marker)) {
      if (at + 10 > bytes.length) return null;
      const height = bytes.readUInt16BE(at + 5);
      const width = bytes.readUInt16BE(at + 7);
      const components = bytes[at + 9] as number;
      const pixels = width * height;
      // Component planes at full size (no subsampling is the worst case); a progressive image
      // also keeps every coefficient (2 bytes each) until its last scan.
      const planes = pixels * components * (PROGRESSIVE.has(marker) ? 3 : 1);
      return {
        format: 'jpeg',
        width,
        height,
        inflatedBytes: 0,
        decodeBytes: 2 * bytes.length + planes + pixels * (1 + SEARCH_BYTES_PER_PIXEL),
      };
    }
    at += 2 + length;
  }
  return null;
}

/** The header of a PNG or JPEG (by its bytes, not its declared type); null for anything else. */
export function readImageHeader(bytes: Buffer): ImageHeader | null {
  if (bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return readPng(bytes);
  if (bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return readJpeg(bytes);
  return null;
}
