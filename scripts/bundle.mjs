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
import { rmSync } from 'node:fs';
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
];

const WORKER_FILE = 'cpu-worker.mjs';

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
  define: { __CPU_WORKER_FILE__: JSON.stringify(`./${WORKER_FILE}`) },
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
process.stdout.write(
  `dist/server/main.mjs: ${(entry('main.mjs').bytes / 1024).toFixed(0)} KiB, ${WORKER_FILE}: ` +
    `${(entry(WORKER_FILE).bytes / 1024).toFixed(0)} KiB, ${outputs.length - 2} chunks, ${Object.keys(result.metafile.inputs).length} modules\n`,
);
