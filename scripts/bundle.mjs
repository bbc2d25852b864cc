// The server bundled: dist/server/main.mjs (+ chunks), what `npm start` and the image run. Run by
// `npm run build` after tsc (tsc type-checks and emits dist/src for the CLIs and the tests).
//
// Why: Node resolves, reads and compiles ~700 module files to start the server (~200 ms of a
// ~430 ms cold start, bench/: cold-start); one file skips the resolution and the file system.
// V8 compiles a function only when it first runs, so code that start-up never calls costs only
// a quick pre-parse.
//
// Left outside the bundle (loaded from node_modules at run time):
// - native addons and packages that read their own files (__dirname): better-sqlite3, @node-rs/*,
//   @fastify/swagger-ui (serves its static folder), pino and its transports (worker threads);
// - packages loaded only when configured (PostgreSQL, MongoDB, Redis, SMTP, metrics) or used
//   (image decoders of /qr/scan): bundled, their code would be pre-parsed at every start.
// Code behind a dynamic import() (the stores, metrics, Redis, mail, scan decoders) goes to chunks
// of its own (splitting): an external imported there is loaded only when that chunk is.
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
  'jsqr',
  'pngjs',
  'jpeg-js',
];

// Chunk names carry a content hash: clear the old ones.
rmSync('dist/server', { recursive: true, force: true });
const result = await build({
  entryPoints: { main: 'src/main.ts' },
  outdir: 'dist/server',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: EXTERNAL,
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
const main = outputs.find(([, o]) => o.entryPoint !== undefined)?.[1].bytes ?? 0;
// A progress line, so stderr: a command whose output is data (npm run keys) runs a build first.
process.stderr.write(
  `dist/server/main.mjs: ${(main / 1024).toFixed(0)} KiB, ${outputs.length - 1} chunks, ${Object.keys(result.metafile.inputs).length} modules\n`,
);
