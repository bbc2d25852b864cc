/**
 * A payload and image options drawn as PNG or SVG bytes, or the 422 issues that forbid it (too
 * little contrast, too much data for a QR code, too small a size). The same function runs on the
 * event loop for small images and on a CPU worker for large ones (qr-images.ts decides which):
 * encoding 2 KB of text takes ~25 ms of qrcode's mask search, a 2048 px PNG several more.
 */
import { type ValidationIssue, ValidationFailed } from '../errors.js';
import { type Ecc, encodeMatrix, renderPng } from './render-png.js';
import { renderSvg } from './render-svg.js';

export interface ImageOptions {
  format: 'png' | 'svg';
  /** Side in pixels; by default 10 px per module. */
  size?: number;
  margin: number;
  ecc: Ecc;
  /** 6 hex digits, with or without '#'. */
  dark?: string;
  light?: string;
}

/** `where` names the request part the options came from, for 422 locations. */
export type OptionsFrom = 'query' | 'body';

export function hex(colour: string | undefined): string | undefined {
  return colour === undefined ? undefined : colour.replace(/^#/, '').toLowerCase();
}

/** Relative luminance (WCAG), 0 = black, 1 = white. */
function luminance(colour: string): number {
  const channel = (i: number) => {
    const v = Number.parseInt(colour.slice(i, i + 2), 16) / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
}

/** The image's bytes; throws ValidationFailed for options that cannot make a readable code. */
export function drawQr(payload: string, options: ImageOptions, where: OptionsFrom): Buffer | string {
  const dark = hex(options.dark);
  const light = hex(options.light);
  // Scanners need dark modules on a clearly lighter background (WCAG's 3:1 for graphics).
  const contrast = (luminance(light ?? 'ffffff') + 0.05) / (luminance(dark ?? '000000') + 0.05);
  if (contrast < 3) {
    throw new ValidationFailed([
      { loc: [where, 'light'], msg: 'dark must be clearly darker than light (contrast of at least 3:1)', type: 'value_error' },
    ]);
  }
  let matrix: ReturnType<typeof encodeMatrix>;
  try {
    matrix = encodeMatrix(payload, options.ecc);
  } catch {
    throw new ValidationFailed([
      { loc: ['body', 'data'], msg: 'Too much data for a QR code at this error correction level', type: 'value_error' },
    ]);
  }
  const total = matrix.size + 2 * options.margin;
  if (options.size !== undefined && options.size < total) {
    throw new ValidationFailed([
      { loc: [where, 'size'], msg: `size must be at least ${total} px for this code (1 px per module)`, type: 'value_error' },
    ]);
  }
  const renderOptions = { margin: options.margin, size: options.size, dark, light };
  return options.format === 'svg' ? renderSvg(matrix, renderOptions) : renderPng(matrix, renderOptions);
}

/** drawQr as a CPU worker task: its 422 issues come back as data (an error's class does not cross threads). */
export function drawQrTask(input: {
  payload: string;
  options: ImageOptions;
  where: OptionsFrom;
}): { body: Uint8Array | string } | { issues: ValidationIssue[] } {
  try {
    return { body: drawQr(input.payload, input.options, input.where) };
  } catch (error) {
    if (error instanceof ValidationFailed) return { issues: error.issues };
    throw error;
  }
}
