// The server bundled: dist/server/main.mjs (+ chunks), what `npm start` and the image run. Run by
// `npm run build` after tsc (tsc type-checks and emits dist/src for the CLIs and the tests).
//
// Why: Node resolves, reads and compiles ~700 module files to start the server (~200 ms of a
// ~430 ms cold start, bench/: cold-start); one file skips the resolution and the file system.
// V8 compiles a function only when it first runs, so code that start-up never calls costs only
// a quick pre-parse.
//
// A second entry, dist/server/cpu-worker.mjs: the CPU worker threads' (src/cpu-worker.ts:
// password hashing, QR decoding), started by src/workers/cpu-pool.ts, which is told its name
// (__CPU_WORKER_FILE__) and finds it beside itself: the build fails if that module leaves main.mjs.
//
// Left outside the bundle (loaded from node_modules at run time):
// - native addons and packages that read their own files (__dirname): better-sqlite3, @node-rs/*,
//   @fastify/swagger-ui (serves its static folder), pino and its transports (worker threads),
//   piscina (starts its own worker script), zxing-wasm (its .wasm is read from its folder);
// - packages loaded only when configured (PostgreSQL, MongoDB, Redis, SMTP, metrics): bundled,
//   their code would be pre-parsed at every start.
// Code behind a dynamic import() (the stores, metrics, Redis, mail) goes to chunks of its own
// (splitting): an external imported there is loaded only when that chunk is.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const EXTERNAL = [
  'better-sqlite3',
  '@node-rs/argon2',
  '@node-rs/bcrypt',
  '@fastify/swagger-ui',
  'pino',
  'pino-pretty',
  'thread-stream',
  'pg',
  'mongodb',
  'ioredis',
  'nodemailer',
  'prom-client',
  'piscina',
  'zxing-wasm',
  // esbuild renames a class of oidc-provider and breaks it at run time ("ttl is not a function").
  'oidc-provider',
  // Only the sources' web assets are built at start-up (src/web/assets.ts); the bundle reads them
  // ready-made from dist/web/assets.
  'esbuild',
];

const WORKER_FILE = 'cpu-worker.mjs';

// Fastify requires node:https and node:http2 (and with them node:tls, ~6 ms) at load time, for
// the `https`/`http2` options this service never sets (TLS ends at the proxy): its server.js gets
// stand-ins that load them on the first call.
const lazyServerBuiltins = {
  name: 'lazy-server-builtins',
  setup(b) {
    b.onResolve({ filter: /^node:(https|http2)$/ }, (args) =>
      /fastify[\\/]lib[\\/]server\.js$/.test(args.importer) ? { path: args.path, namespace: 'lazy-builtin' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      loader: 'js',
      contents:
        `let real; const load = () => (real ??= require('${args.path}'));` +
        'module.exports = { createServer: (...a) => load().createServer(...a), createSecureServer: (...a) => load().createSecureServer(...a) };',
    }));
  },
};

// V8 keeps each module's source in memory for as long as the process runs, in one byte per
// character when every character is Latin-1, else in two. esbuild escapes non-ASCII text in
// strings, but not inside tagged templates (it would change their .raw), and one "…" in a page's
// html`` made main.mjs a 3.1 MB string instead of 1.5 MB. Our sources reach esbuild with every
// non-ASCII character as a \uXXXX escape (same cooked value; html`` uses cooked strings only),
// and the build fails if any output file still has one.
const asciiSources = {
  name: 'ascii-sources',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      // eslint-disable-next-line no-control-regex
      const contents = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
      return { contents, loader: 'ts' };
    });
  },
};

// @fastify/swagger requires `yaml` (290 KB of source, ~10 ms to evaluate at every start) for
// /openapi.yaml and static files, which this service serves neither of. Its `require('yaml')`
// gets a stand-in that loads the real package (from node_modules) on the first call.
const lazyYaml = {
  name: 'lazy-yaml',
  setup(b) {
    b.onResolve({ filter: /^yaml$/ }, (args) =>
      args.namespace === 'lazy-yaml' ? { path: 'yaml', external: true } : { path: 'yaml', namespace: 'lazy-yaml' },
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-yaml' }, () => ({
      loader: 'js',
      contents:
        "let real; const load = () => (real ??= require('yaml'));" +
        'module.exports = { parse: (...a) => load().parse(...a), stringify: (...a) => load().stringify(...a) };',
    }));
  },
};

// Chunk names carry a content hash: clear the old ones.
rmSync('dist/server', { recursive: true, force: true });
const result = await build({
  entryPoints: { main: 'src/main.ts', 'cpu-worker': 'src/cpu-worker.ts' },
  outdir: 'dist/server',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: EXTERNAL,
  plugins: [asciiSources, lazyYaml, lazyServerBuiltins],
  // @fastify/multipart reads globalThis.FormData (Node loads undici for it, ~13 ms of a cold start)
  // only to add request.formData(), which nothing here calls; uploads use request.file().
  define: { 'globalThis.FormData': 'undefined', __CPU_WORKER_FILE__: JSON.stringify(`./${WORKER_FILE}`), __AUTHQR_BUNDLED__: 'true' },
  // CommonJS dependencies inside an ES module call require(); give them Node's.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  // Smaller source to keep in memory and to pre-parse; names are kept (stack traces, profiles).
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
  metafile: true,
});
const outputs = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith('.mjs'));
const entry = (name) => outputs.find(([file]) => file === `dist/server/${name}`)?.[1];
const pool = outputs.find(([, o]) => Object.keys(o.inputs).includes('src/workers/cpu-pool.ts'))?.[0];
if (pool !== 'dist/server/main.mjs') {
  // It resolves ./cpu-worker.mjs against its own file: from a chunk, that would miss.
  throw new Error(`src/workers/cpu-pool.ts went to ${pool}, not dist/server/main.mjs: it would not find ${WORKER_FILE}`);
}
// Packages that start-up must not load (each costs cold-start time and idle memory; they load on
// first use, through import()): none of them may be in main.mjs or in a chunk it imports statically.
// (yaml is not listed: the lazy-yaml stand-in's require() is external and runs on first call.)
const LOADED_ON_FIRST_USE = ['@fastify/swagger-ui', '@fastify/static', '@simplewebauthn/server', 'oidc-provider', 'zxing-wasm'];
const startup = new Set(['dist/server/main.mjs']);
for (const file of startup) {
  for (const i of result.metafile.outputs[file]?.imports ?? []) {
    if (!i.external && i.kind !== 'dynamic-import') startup.add(i.path);
  }
}
for (const file of startup) {
  const output = result.metafile.outputs[file];
  const names = [...Object.keys(output.inputs), ...output.imports.filter((i) => i.external && i.kind !== 'dynamic-import').map((i) => `node_modules/${i.path}/`)];
  const eager = LOADED_ON_FIRST_USE.filter((pkg) => names.some((n) => n.includes(`node_modules/${pkg}/`)));
  if (eager.length > 0) throw new Error(`${file} loads ${eager.join(', ')} at start-up: import them with import() where they are used`);
}
for (const [file] of outputs) {
  // eslint-disable-next-line no-control-regex
  const line = readFileSync(file, 'latin1').split('\n').findIndex((l) => /[^\x00-\x7f]/.test(l));
  if (line >= 0) throw new Error(`${file}:${line + 1} has a non-ASCII character: V8 would keep it as a two-byte string (see asciiSources)`);
}
// A progress line, so stderr: a command whose output is data (npm run keys) runs a build first.
process.stderr.write(
  `dist/server/main.mjs: ${(entry('main.mjs').bytes / 1024).toFixed(0)} KiB, ${WORKER_FILE}: ` +
    `${(entry(WORKER_FILE).bytes / 1024).toFixed(0)} KiB, ${outputs.length - 2} chunks, ${Object.keys(result.metafile.inputs).length} modules\n`,
);

// The web front's assets: the stylesheet and icon as they are, the islands bundled for browsers with
// the settings src/web/assets.ts uses from the sources. Served from memory under content-hashed names.
const WEB_ASSETS = 'dist/web/assets';
rmSync('dist/web', { recursive: true, force: true });
mkdirSync(WEB_ASSETS, { recursive: true });
for (const file of readdirSync('src/web/assets')) {
  if (file.endsWith('.css') || file.endsWith('.svg')) copyFileSync(path.join('src/web/assets', file), path.join(WEB_ASSETS, file));
}
const islands = (existsSync('src/web/islands') ? readdirSync('src/web/islands') : [])
  .filter((f) => f.endsWith('.ts') && !f.startsWith('_') && !f.endsWith('.d.ts'))
  .map((f) => path.join('src/web/islands', f));
if (islands.length > 0) {
  await build({
    entryPoints: islands,
    outdir: WEB_ASSETS,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome109', 'firefox115', 'safari15.6'],
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
}
process.stderr.write(`${WEB_ASSETS}: ${readdirSync(WEB_ASSETS).join(', ')}\n`);
