/**
 * Independent decoders for the images the service draws: pngjs + jsqr for PNG, resvg (a Rust SVG
 * renderer) + jsqr for SVG. None of them shares code with the service's renderers.
 */
import { Resvg } from '@resvg/resvg-js';
import * as jsQRModule from 'jsqr';
import { PNG } from 'pngjs';

// jsqr is CommonJS whose typings declare an ES default export; under Node's loader the
// module itself is the function. Type it by hand rather than fight the interop.
type DecodeQr = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null;
const jsQR = jsQRModule.default as unknown as DecodeQr;

export function decodePng(png: Buffer): { text: string; width: number; height: number; rgba: Buffer } {
  const image = PNG.sync.read(png);
  const found = jsQR(new Uint8ClampedArray(image.data), image.width, image.height);
  if (found === null) throw new Error('no QR code found in the PNG');
  return { text: found.data, width: image.width, height: image.height, rgba: image.data };
}

export function decodeSvg(svg: string): { text: string; width: number } {
  const png = Buffer.from(new Resvg(svg).render().asPng());
  const decoded = decodePng(png);
  return { text: decoded.text, width: decoded.width };
}
