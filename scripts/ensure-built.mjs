#!/usr/bin/env node
// Builds dist/ (`npm run build`) only when it is out of date, so `npm start` and the CLIs
// (`npm run admin|import|keys`) start at once after the first build instead of spending 5-25 s
// on tsc and esbuild every time. Run from the package root (npm does).
//
// The rule: dist/ is rebuilt when the content of any input differs from the last build made
// here, when an input appears or goes, or when an output is missing. Inputs: every file under
// src/, package.json, package-lock.json, tsconfig.json, tsconfig.build.json, scripts/bundle.mjs.
// Content, not modification times: a `git checkout` or a copy that touches files without
// changing them does not rebuild, and an edit within the same second as the build still does.
// The digests of the inputs, taken before the build started (an edit made during a build is
// seen at the next start), are kept in dist/.build-inputs.json after a successful build. Two
// commands started at once build once: the second waits for the first (dist/.build-lock).
//
// Output: nothing when dist/ is up to date; otherwise one line saying why and the build's own
// output, all on stderr, so `npm run --silent keys -- generate > keys.json` writes only the key.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const INPUT_FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/bundle.mjs'];
const INPUT_DIRS = ['src'];
const OUTPUTS = ['dist/server/main.mjs', 'dist/src/cli/admin.js', 'dist/src/cli/import.js', 'dist/src/cli/keys.js'];
const STAMP = 'dist/.build-inputs.json';
const LOCK = 'dist/.build-lock';

/** Every input that exists, by path relative to the root (forward slashes), with its SHA-256. */
function digestInputs() {
  const files = INPUT_FILES.filter((f) => existsSync(f));
  for (const dir of INPUT_DIRS.filter((d) => existsSync(d))) {
    for (const name of readdirSync(dir, { recursive: true })) {
      const file = path.join(dir, String(name));
      if (statSync(file).isFile()) files.push(file.split(path.sep).join('/'));
    }
  }
  files.sort();
  return Object.fromEntries(files.map((f) => [f, createHash('sha256').update(readFileSync(f)).digest('hex')]));
}

function readStamp() {
  try {
    const stamp = JSON.parse(readFileSync(STAMP, 'utf8'));
    return typeof stamp?.inputs === 'object' && stamp.inputs !== null ? stamp.inputs : null;
  } catch {
    return null;
  }
}

/** Why dist/ must be built, or null when it is up to date. */
function staleReason(inputs) {
  const missing = OUTPUTS.find((f) => !existsSync(f));
  if (missing !== undefined) return `${missing} is missing`;
  const built = readStamp();
  if (built === null) return `no record of the last build (${STAMP})`;
  const changed = [
    ...Object.keys(inputs).filter((f) => built[f] !== inputs[f]),
    ...Object.keys(built).filter((f) => !(f in inputs)),
  ];
  if (changed.length === 0) return null;
  const more = changed.length > 1 ? ` and ${changed.length - 1} more` : '';
  return `${changed[0]}${more} changed since the last build`;
}

/** Whether process `pid` is still running (EPERM: it is, under another user). */
function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * One build at a time: `npm start` and `npm run admin` started together after a pull would
 * otherwise both write dist/ (bundle.mjs clears dist/server first). The lock is a directory
 * (mkdir is atomic) holding the builder's pid; a lock whose process is gone is taken over.
 */
async function lock() {
  mkdirSync('dist', { recursive: true });
  let told = false;
  let ownerUnknown = 0;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(`${LOCK}/pid`, String(process.pid));
      return;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    let owner;
    try {
      owner = Number.parseInt(readFileSync(`${LOCK}/pid`, 'utf8'), 10);
    } catch (error) {
      if (error.code !== 'ENOENT') throw error;
      if (!existsSync(LOCK)) continue; // released just now
      owner = Number.NaN;
    }
    // No pid yet: it is being written; for 50 polls (5 s) in a row, its writer died in between.
    ownerUnknown = Number.isNaN(owner) ? ownerUnknown + 1 : 0;
    if ((!Number.isNaN(owner) && !isAlive(owner)) || ownerUnknown > 50) {
      rmSync(LOCK, { recursive: true, force: true });
      continue;
    }
    if (!told && !Number.isNaN(owner)) {
      process.stderr.write(`Waiting for the build that process ${owner} is running\n`);
      told = true;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The exit status: 0 when dist/ is up to date (built now or already). */
async function main() {
  if (!INPUT_DIRS.every((d) => existsSync(d))) {
    // A runtime copy (dist/ without the sources, as in the image): nothing to build from.
    const missing = OUTPUTS.find((f) => !existsSync(f));
    if (missing === undefined) return 0;
    process.stderr.write(`${missing} is missing and there is no src/ to build it from\n`);
    return 1;
  }
  if (staleReason(digestInputs()) === null) return 0;

  await lock();
  try {
    // Digests taken now, before the build: an edit made during it is seen at the next start.
    const inputs = digestInputs();
    const reason = staleReason(inputs); // null: another process built it while we waited
    if (reason === null) return 0;
    process.stderr.write(`Building dist/: ${reason}\n`);
    // The npm that runs us, when it is npm; the build's stdout goes to stderr (see above).
    const npm = process.env.npm_execpath;
    const [command, args] = npm ? [process.execPath, [npm, 'run', '--silent', 'build']] : ['npm', ['run', '--silent', 'build']];
    const result = spawnSync(command, args, { stdio: ['ignore', 2, 2] });
    if (result.error !== undefined) {
      process.stderr.write(`Cannot run the build: ${result.error.message}\n`);
      return 1;
    }
    if (result.status !== 0) return result.status ?? 1;
    const temp = `${STAMP}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify({ inputs }, null, 1)}\n`);
    renameSync(temp, STAMP);
    return 0;
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

process.exitCode = await main();
