/** Decodes a PNG QR code independently of the service (pngjs + jsqr): the bytes must still scan. */
import * as jsQRModule from 'jsqr';
import { PNG } from 'pngjs';

// jsqr is CommonJS typed as an ES default export; under Node's loader the module is the function.
type DecodeQr = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null;
const jsQR = jsQRModule.default as unknown as DecodeQr;

export function decodePngText(png: Buffer): string | null {
  const image = PNG.sync.read(png);
  return jsQR(new Uint8ClampedArray(image.data), image.width, image.height)?.data ?? null;
}
