/**
 * qrcode's encoder alone (lib/core/qrcode.js): the matrix without the package's renderers, whose
 * PNG one loads pngjs at start-up. @types/qrcode describes only the package's main entry.
 */
declare module 'qrcode/lib/core/qrcode.js' {
  import type { QRCode, QRCodeOptions } from 'qrcode';

  export function create(text: string, options?: QRCodeOptions): QRCode;
}
