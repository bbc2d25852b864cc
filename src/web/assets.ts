/**
 * The web front's static files: the stylesheet, the icon and the islands (the few TypeScript
 * scripts a page needs, bundled by esbuild). All of them are small, so they are served from memory
 * (no static-file plugin), under names that carry a hash of their content: cached for a year,
 * never stale.
 *
 * In the bundled server (`npm start`, the image) they come ready-made from dist/web/assets,
 * built by scripts/bundle.mjs with the same settings. Run from the sources (tests, `npm run dev`), the islands are built
 * here at start-up with esbuild (a development dependency), so a test always serves what the
 * sources say.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  body: Buffer;
  type: string;
}

export interface WebAssets {
  /** The URL of an asset by its source name ('site.css', 'badge-check.js'). */
  url(name: string): string;
  /** The asset served at /assets/<file>, if any. */
  get(file: string): Asset | undefined;
  /** Every asset by source name, for the byte counts of the bench. */
  readonly files: ReadonlyMap<string, { file: string; asset: Asset }>;
}

declare const __AUTHQR_BUNDLED__: boolean | undefined;

const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const here = path.dirname(fileURLToPath(import.meta.url));
/** The sources: src/web (this file's folder when run from the sources). */
const SOURCE_DIR = here;
/** In the bundle (dist/server/main.mjs): dist/web/assets, beside it. */
const BUILT_DIR = path.join(here, '..', 'web', 'assets');

export const ASSETS_PREFIX = '/assets/';

/** `site.css` -> `site-<hash>.css`, hashed by content (what bundle.mjs names them too). */
export function hashedName(name: string, body: Buffer): string {
  const hash = createHash('sha256').update(body).digest('base64url').slice(0, 10);
  const ext = path.extname(name);
  return `${name.slice(0, -ext.length)}-${hash}${ext}`;
}

function collect(entries: [string, Buffer][]): WebAssets {
  const files = new Map<string, { file: string; asset: Asset }>();
  const byFile = new Map<string, Asset>();
  for (const [name, body] of entries) {
    const file = hashedName(name, body);
    const asset = { body, type: TYPES[path.extname(name)] ?? 'application/octet-stream' };
    files.set(name, { file, asset });
    byFile.set(file, asset);
  }
  return {
    url(name) {
      const found = files.get(name);
      if (found === undefined) throw new Error(`no web asset named ${name}`);
      return `${ASSETS_PREFIX}${found.file}`;
    },
    get: (file) => byFile.get(file),
    files,
  };
}

/** The plain files (stylesheet, icon) of src/web/assets. */
function plainFiles(dir: string): [string, Buffer][] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.css') || f.endsWith('.svg'))
    .map((f) => [f, readFileSync(path.join(dir, f))]);
}

/** The islands' entry points: every .ts file of src/web/islands but the shared modules (_*.ts). */
export function islandEntries(islandsDir: string): string[] {
  if (!existsSync(islandsDir)) return [];
  return readdirSync(islandsDir)
    .filter((f) => f.endsWith('.ts') && !f.startsWith('_') && !f.endsWith('.d.ts'))
    .map((f) => path.join(islandsDir, f));
}

/** esbuild's settings for the islands: the same here and in scripts/bundle.mjs. */
export const ISLAND_BUILD_OPTIONS = {
  bundle: true,
  format: 'esm' as const,
  platform: 'browser' as const,
  target: ['chrome109', 'firefox115', 'safari15.6'],
  minify: true,
  legalComments: 'none' as const,
};

export async function loadWebAssets(): Promise<WebAssets> {
  if (typeof __AUTHQR_BUNDLED__ !== 'undefined' && __AUTHQR_BUNDLED__) {
    // Ready-made by the build, under their source names; hashed here, like the sources' below.
    return collect(readdirSync(BUILT_DIR).map((file) => [file, readFileSync(path.join(BUILT_DIR, file))]));
  }
  const esbuild = await import('esbuild');
  const entries = islandEntries(path.join(SOURCE_DIR, 'islands'));
  const built =
    entries.length === 0
      ? []
      : (await esbuild.build({ ...ISLAND_BUILD_OPTIONS, entryPoints: entries, outdir: 'out', write: false })).outputFiles?.map(
          (f): [string, Buffer] => [path.basename(f.path), Buffer.from(f.contents)],
        ) ?? [];
  return collect([...plainFiles(path.join(SOURCE_DIR, 'assets')), ...built]);
}
