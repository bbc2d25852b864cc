/**
 * QR codes as SVG: one path, each horizontal run of dark modules one rectangle, in module units
 * scaled by the viewBox. Small, crisp at any size, and quick to build.
 */
import type { QrMatrix, RenderOptions } from './render-png.js';
import { imageSide } from './render-png.js';

export function renderSvg(matrix: QrMatrix, options: RenderOptions): string {
  const { margin } = options;
  const { size, modules } = matrix;
  const total = size + 2 * margin;
  const side = imageSide(matrix, options);
  const parts: string[] = [];
  for (let r = 0; r < size; r++) {
    let c = 0;
    while (c < size) {
      if (modules[r * size + c] !== 1) {
        c++;
        continue;
      }
      const start = c;
      while (c < size && modules[r * size + c] === 1) c++;
      parts.push(`M${start + margin} ${r + margin}h${c - start}v1h-${c - start}z`);
    }
  }
  const dark = `#${options.dark ?? '000000'}`;
  const light = `#${options.light ?? 'ffffff'}`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}" viewBox="0 0 ${total} ${total}" shape-rendering="crispEdges">` +
    `<rect width="${total}" height="${total}" fill="${light}"/>` +
    `<path fill="${dark}" d="${parts.join('')}"/></svg>\n`
  );
}
