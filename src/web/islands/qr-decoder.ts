/**
 * The badge checker's JavaScript QR decoder (jsQR), for browsers without BarcodeDetector. Not a
 * page's island: badge-check.ts imports it on demand, from the URL /check gives it, so only a
 * browser that needs it downloads it (it is most of the checker's weight).
 */
import * as jsQRModule from 'jsqr';

type JsQr = (
  rgba: Uint8ClampedArray,
  width: number,
  height: number,
  options?: { inversionAttempts?: 'dontInvert' | 'onlyInvert' | 'attemptBoth' | 'invertFirst' },
) => { data: string } | null;
// jsqr is CommonJS flagged as an ES module: the bundle's `default` is the function, which
// TypeScript's view of a CommonJS package (NodeNext) does not see.
const jsQR = jsQRModule.default as unknown as JsQr;

/** The text of a QR code in an RGBA frame, or null. */
export function decode(rgba: Uint8ClampedArray, width: number, height: number): string | null {
  return jsQR(rgba, width, height, { inversionAttempts: 'attemptBoth' })?.data ?? null;
}
