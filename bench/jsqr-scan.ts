/**
 * The scan pipeline the service ran until it moved to zxing-wasm on CPU workers, kept as it was
 * (on the event loop, no budget) for bench/scan-decoders.ts to compare against: pngjs / jpeg-js
 * for the pixels, jsQR for the code. Every limit is checked before the expensive
 * step it guards: the upload size by the route, the pixel count from the image header before any
 * pixel is decoded (a 100-byte PNG may claim 50,000 × 50,000 pixels: 10 GB of RGBA).
 */
import { inflateSync } from 'node:zlib';
import type * as JpegModule from 'jpeg-js';
import type { PNG as PngClass } from 'pngjs';
import { AppError } from '../src/errors.js';
import { PNG_SIGNATURE } from '../src/qr-render/render-png.js';

/** Largest upload, in bytes. */
export const SCAN_MAX_BYTES = 5 * 1024 * 1024;
/** Largest image decoded: a 16 MP phone photo; about 64 MB of RGBA and a few hundred ms of jsQR. */
export const SCAN_MAX_MEGAPIXELS = 16;

type Point = { x: number; y: number };
type Found = {
  data: string;
  location: { topLeftCorner: Point; topRightCorner: Point; bottomLeftCorner: Point; bottomRightCorner: Point };
};
type DecodeQr = (
  data: Uint8ClampedArray,
  width: number,
  height: number,
  options?: { inversionAttempts?: 'attemptBoth' | 'dontInvert' | 'onlyInvert' | 'invertFirst' },
) => Found | null;
// The decoders are loaded on the first scan, not at start-up (jsQR alone is a noticeable part of
// a cold start, and most instances never scan).
let jsQR: DecodeQr;
let PNG: typeof PngClass;
let jpeg: typeof JpegModule;
let loading: Promise<void> | undefined;
function loadDecoders(): Promise<void> {
  loading ??= Promise.all([import('jsqr'), import('pngjs'), import('jpeg-js')]).then(([jsqrModule, pngModule, jpegModule]) => {
    // jsQR is CommonJS whose typings declare an ES default export; under Node's loader the
    // module itself is the function.
    jsQR = jsqrModule.default as unknown as DecodeQr;
    PNG = pngModule.PNG;
    jpeg = jpegModule;
  });
  return loading;
}

interface Pixels {
  width: number;
  height: number;
  /** RGBA, 4 bytes a pixel. */
  rgba: Uint8ClampedArray;
}

export const scanErrors = {
  unsupportedType: () =>
    new AppError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      'Send a PNG or JPEG image: Content-Type image/png or image/jpeg, or multipart/form-data with a "file" field',
    ),
  tooLarge: () =>
    new AppError(413, 'PAYLOAD_TOO_LARGE', `The image is too large (limit ${SCAN_MAX_BYTES / 1024 / 1024} MiB)`),
  fileRequired: () => new AppError(422, 'FILE_REQUIRED', 'The multipart body has no "file" field'),
  invalidImage: () => new AppError(422, 'INVALID_IMAGE', 'The file is not a readable PNG or JPEG image'),
  tooManyPixels: (width: number, height: number) =>
    new AppError(
      422,
      'IMAGE_TOO_LARGE',
      `The image is ${width}×${height} px; at most ${SCAN_MAX_MEGAPIXELS} megapixels are decoded`,
    ),
  noQr: () => new AppError(422, 'NO_QR_FOUND', 'No QR code was found in the image'),
  multipleQr: () =>
    new AppError(422, 'MULTIPLE_QR', 'The image holds more than one QR code; send an image with exactly one'),
};

function checkPixels(width: number, height: number): void {
  if (width === 0 || height === 0) throw scanErrors.invalidImage();
  if (width * height > SCAN_MAX_MEGAPIXELS * 1_000_000) throw scanErrors.tooManyPixels(width, height);
}

const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * pngjs bounds inflation by the image size, except for interlaced images: there a 5 MiB zlib bomb
 * would inflate to gigabytes. Inflate their data once here, capped at what the header allows.
 */
function checkInterlacedInflation(bytes: Buffer, width: number, height: number): void {
  const channels = PNG_CHANNELS[bytes[25] as number] ?? 4;
  const depth = bytes[24] as number;
  // Seven passes add at most a filter byte per row each, and a partial byte per row: twice the
  // plain size is a generous bound.
  const limit = 2 * height * (Math.ceil((width * channels * depth) / 8) + 1) + 1024;
  const data: Buffer[] = [];
  for (let at = 8; at + 12 <= bytes.length; ) {
    const length = bytes.readUInt32BE(at);
    if (bytes.toString('latin1', at + 4, at + 8) === 'IDAT') data.push(bytes.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  try {
    inflateSync(Buffer.concat(data), { maxOutputLength: limit });
  } catch {
    // More data than the header allows (or no valid data): not a PNG this service decodes.
    throw scanErrors.invalidImage();
  }
}

function decodePng(bytes: Buffer): Pixels {
  // IHDR is always the first chunk: its width and height say what decoding would allocate.
  if (bytes.length < 33 || bytes.toString('latin1', 12, 16) !== 'IHDR') throw scanErrors.invalidImage();
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  checkPixels(width, height);
  if (bytes[28] === 1) checkInterlacedInflation(bytes, width, height);
  try {
    const image = PNG.sync.read(bytes);
    return { width: image.width, height: image.height, rgba: new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.length) };
  } catch {
    throw scanErrors.invalidImage();
  }
}

function decodeJpeg(bytes: Buffer): Pixels {
  try {
    // jpeg-js checks the frame header's size against maxResolutionInMP before allocating.
    const image = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: true,
      maxResolutionInMP: SCAN_MAX_MEGAPIXELS,
      maxMemoryUsageInMB: 256,
    });
    return { width: image.width, height: image.height, rgba: new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.length) };
  } catch (error) {
    if (error instanceof Error && /maxResolutionInMP|maxMemoryUsageInMB/.test(error.message)) {
      throw new AppError(422, 'IMAGE_TOO_LARGE', `The image is larger than ${SCAN_MAX_MEGAPIXELS} megapixels`);
    }
    throw scanErrors.invalidImage();
  }
}

/** Paints the found code's area (with a margin for its quiet zone) white. */
function blank(pixels: Pixels, corners: Point[]): void {
  const xs = corners.map((p) => p.x);
  const ys = corners.map((p) => p.y);
  const pad = Math.max(4, 0.15 * Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)));
  const x0 = Math.max(0, Math.floor(Math.min(...xs) - pad));
  const x1 = Math.min(pixels.width, Math.ceil(Math.max(...xs) + pad));
  const y0 = Math.max(0, Math.floor(Math.min(...ys) - pad));
  const y1 = Math.min(pixels.height, Math.ceil(Math.max(...ys) + pad));
  for (let y = y0; y < y1; y++) pixels.rgba.fill(255, (y * pixels.width + x0) * 4, (y * pixels.width + x1) * 4);
}

/**
 * Windows (fractions of the image: x0, y0, x1, y1) searched when the whole image yields nothing:
 * each split of the image in two, across and down, at 1/2, 1/3 and 2/3. Two codes side by side
 * (or stacked) have a split between them, and each window then holds one whole code.
 */
const WINDOWS = [1 / 2, 1 / 3, 2 / 3].flatMap((s) => [
  [0, 0, s, 1],
  [s, 0, 1, 1],
  [0, 0, 1, s],
  [0, s, 1, 1],
]);

/** One code in the image or in one of its windows: its text and its corners in image coordinates. */
function findOne(pixels: Pixels, first: boolean): { data: string; corners: Point[] } | null {
  const whole = jsQR(pixels.rgba, pixels.width, pixels.height, { inversionAttempts: first ? 'attemptBoth' : 'dontInvert' });
  if (whole !== null) return { data: whole.data, corners: Object.values(whole.location) };
  // Once one code is blanked out, a second one stands alone: the whole image finds it.
  if (!first) return null;
  // jsQR pairs finder patterns across the whole image: two codes side by side, with modules of
  // one size, can hide each other (it then finds neither).
  for (const [fx0, fy0, fx1, fy1] of WINDOWS as [number, number, number, number][]) {
    const x0 = Math.floor(fx0 * pixels.width);
    const y0 = Math.floor(fy0 * pixels.height);
    const width = Math.floor(fx1 * pixels.width) - x0;
    const height = Math.floor(fy1 * pixels.height) - y0;
    const rgba = new Uint8ClampedArray(width * height * 4);
    for (let y = 0; y < height; y++) {
      const from = ((y0 + y) * pixels.width + x0) * 4;
      rgba.set(pixels.rgba.subarray(from, from + width * 4), y * width * 4);
    }
    const found = jsQR(rgba, width, height, { inversionAttempts: 'dontInvert' });
    if (found !== null) {
      return { data: found.data, corners: Object.values(found.location).map((p) => ({ x: p.x + x0, y: p.y + y0 })) };
    }
  }
  return null;
}

/**
 * The text of the one QR code in a PNG or JPEG; 4xx AppErrors for anything else. The bytes, not
 * the declared Content-Type, decide how they are decoded.
 */
export async function readQrCode(bytes: Buffer): Promise<string> {
  await loadDecoders();
  let pixels: Pixels;
  if (bytes.subarray(0, 8).equals(PNG_SIGNATURE)) pixels = decodePng(bytes);
  else if (bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) pixels = decodeJpeg(bytes);
  else throw scanErrors.invalidImage();

  const found = findOne(pixels, true);
  if (found === null) throw scanErrors.noQr();
  // jsQR reports one code. A second one is looked for where the first is not: a desk must not
  // check in whichever of two badges the decoder happened to see first.
  blank(pixels, found.corners);
  if (findOne(pixels, false) !== null) throw scanErrors.multipleQr();
  return found.data;
}
