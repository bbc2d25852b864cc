/**
 * Turning a payload and image options into PNG or SVG bytes, with an ETag, through the cache.
 * Bad options (too small a size, too little contrast, too much data for a QR code) are 422s.
 */
import { createHash } from 'node:crypto';
import { ValidationFailed } from '../errors.js';
import { createRenderCache, type RenderedImage } from './render-cache.js';
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

export interface QrImages {
  /** `where` names the request part the options came from, for 422 locations. */
  render(payload: string, options: ImageOptions, where: 'query' | 'body'): RenderedImage;
}

function hex(colour: string | undefined): string | undefined {
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

export function createQrImages(limits = { maxEntries: 1000, maxBytes: 32 * 1024 * 1024 }): QrImages {
  const cache = createRenderCache(limits);

  return {
    render(payload, options, where) {
      const dark = hex(options.dark);
      const light = hex(options.light);
      // The payload last: no other part can hold a '|' (enums, numbers, hex), so keys are unambiguous.
      const key = `${options.format}|${options.size ?? ''}|${options.margin}|${options.ecc}|${dark ?? ''}|${light ?? ''}|${payload}`;
      const cached = cache.get(key);
      if (cached !== undefined) return cached;

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
      const body =
        options.format === 'svg' ? renderSvg(matrix, renderOptions) : renderPng(matrix, renderOptions);
      const image: RenderedImage = {
        body,
        contentType: options.format === 'svg' ? 'image/svg+xml' : 'image/png',
        etag: `"${createHash('sha256').update(key).digest('base64url').slice(0, 27)}"`,
      };
      cache.set(key, image);
      return image;
    },
  };
}
