#!/usr/bin/env node
// Runs the README's walkthrough as a test, so the README cannot drift from the service:
//
// 1. reads README.md: the ```sh server block (one line, `VAR=value ... npm start`) and every
//    ```sh runnable block, in order;
// 2. starts the built server (`node dist/server/main.mjs`, what `npm start` runs after building)
//    with exactly the variables that start line sets, plus a free port and a fresh DATA_DIR, in an
//    empty folder (a developer's .env is not read);
// 3. runs the runnable blocks, concatenated, with `bash -euo pipefail` and B set to the server's
//    address: the first command that fails (curl --fail-with-body on any HTTP error) stops it,
//    and the README line it came from is named.
//
//   node scripts/readme-walkthrough.mjs           run it; exit code 0 when every command succeeded
//   node scripts/readme-walkthrough.mjs --print   print the bash script it would run
//
// `npm test` runs it (test/docs/readme-walkthrough.test.ts). Needs bash, curl and the bundle: it
// runs scripts/bundle.mjs first when dist/server/main.mjs is missing or older than the sources.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SERVER = path.join(ROOT, 'dist/server/main.mjs');
const FAILED_AT = '__README_WALKTHROUGH_FAILED_AT__';

/** Fenced code blocks of a Markdown text: info string words, body, and the line the body starts on (1-based). */
export function fencedBlocks(markdown) {
  const blocks = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i]);
    if (open === null) continue;
    const [, indent, fence, info] = open;
    const body = [];
    let j = i + 1;
    while (j < lines.length && !new RegExp(`^${indent}${fence[0]}{${fence.length},}\\s*$`).test(lines[j])) body.push(lines[j++]);
    blocks.push({ info: info.trim().split(/\s+/).filter(Boolean), body, startLine: i + 2 });
    i = j;
  }
  return blocks;
}

/** The walkthrough in a README: the start line's variables and the runnable blocks. */
export function readWalkthrough(markdown) {
  const blocks = fencedBlocks(markdown);
  const servers = blocks.filter((b) => b.info.includes('server'));
  if (servers.length !== 1) throw new Error(`README.md needs exactly one \`\`\`sh server block (found ${servers.length})`);
  const commands = servers[0].body.filter((line) => line.trim() !== '' && !line.trim().startsWith('#'));
  if (commands.length !== 1) throw new Error('The ```sh server block must hold one command: VAR=value ... npm start');
  const env = parseStartLine(commands[0]);
  const runnable = blocks.filter((b) => b.info.includes('runnable'));
  if (runnable.length === 0) throw new Error('README.md has no ```sh runnable block');
  return { env, blocks: runnable };
}

/** `A=1 B='two words' npm start` -> {A: '1', B: 'two words'}; anything but `npm start` at the end is refused. */
export function parseStartLine(line) {
  const env = {};
  let rest = line.replace(/#.*$/, '').trim();
  for (;;) {
    const m = /^([A-Z_][A-Z0-9_]*)=('[^']*'|"[^"$`\\]*"|[^\s'"$`\\]*)\s+/.exec(rest);
    if (m === null) break;
    env[m[1]] = /^['"]/.test(m[2]) ? m[2].slice(1, -1) : m[2];
    rest = rest.slice(m[0].length);
  }
  if (rest !== 'npm start') throw new Error(`The start line must be \`VAR=value ... npm start\`, got: ${line}`);
  return env;
}

/**
 * The bash script: a trap that reports where a command failed (inherited by the helper functions,
 * -E, so a failure inside one names the line that called it), then the blocks.
 * `lineMap[i]` is the README line of script line i + 1.
 */
export function buildScript(blocks) {
  const lines = ['set -E', `trap 'echo "${FAILED_AT} $LINENO \${BASH_LINENO[*]}" >&2' ERR`];
  const lineMap = [0, 0];
  for (const block of blocks) {
    block.body.forEach((text, k) => {
      lines.push(text);
      lineMap.push(block.startLine + k);
    });
  }
  return { script: `${lines.join('\n')}\n`, lineMap };
}

/**
 * The README line and text of the command that failed, from the trap's last report: `$LINENO`
 * and the call stack `BASH_LINENO` (in a helper function, the second-to-last entry is the line
 * of the walkthrough that called it). Bash reports a command's last line: walk back over `\`.
 */
export function failedCommand(stderr, script, lineMap) {
  const last = [...stderr.matchAll(new RegExp(`${FAILED_AT} ([\\d ]+)`, 'g'))].at(-1);
  if (last === undefined) return 'an unknown line';
  const [lineno, ...stack] = last[1].trim().split(' ').map(Number);
  let n = stack.length >= 2 ? stack[stack.length - 2] : lineno;
  const lines = script.split('\n');
  while (n > 1 && /\\\s*$/.test(lines[n - 2])) n--;
  const text = [lines[n - 1].trim()];
  for (let k = n; /\\\s*$/.test(lines[k - 1]) && k < lines.length; k++) text.push(lines[k].trim());
  return lineMap[n - 1] ? `README.md:${lineMap[n - 1]}: ${text.join(' ')}` : `line ${n} of the script`;
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
  }
  return newest;
}

/** What `npm start` builds first; only the bundle is needed here (tsc's output serves the CLIs). */
function ensureBundle(log) {
  let built = 0;
  try {
    built = statSync(SERVER).mtimeMs;
  } catch {
    // not built yet
  }
  const sources = Math.max(
    newestMtime(path.join(ROOT, 'src')),
    statSync(path.join(ROOT, 'scripts/bundle.mjs')).mtimeMs,
    statSync(path.join(ROOT, 'package-lock.json')).mtimeMs,
  );
  if (built >= sources) return;
  log(built === 0 ? 'bundling the server (dist/server is missing)' : 'bundling the server (dist/server is older than src/)');
  const result = spawnSync(process.execPath, ['scripts/bundle.mjs'], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`scripts/bundle.mjs failed:\n${result.stdout}${result.stderr}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitReady(url, child, output) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}:\n${output()}`);
    try {
      if ((await fetch(`${url}/health/ready`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the server was not ready within 30 s:\n${output()}`);
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(killer);
}

async function main() {
  const started = Date.now();
  const log = (message) => process.stderr.write(`[readme-walkthrough] ${message}\n`);
  const { env, blocks } = readWalkthrough(readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
  const { script, lineMap } = buildScript(blocks);
  if (process.argv.includes('--print')) {
    process.stdout.write(script);
    return 0;
  }

  ensureBundle(log);
  const work = mkdtempSync(path.join(os.tmpdir(), 'readme-walkthrough-'));
  const dataDir = path.join(work, 'data');
  mkdirSync(dataDir);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let serverOutput = '';
  // The README's variables and nothing else from this environment (no NODE_ENV=test, no
  // DATABASE_URL of a test run): what a newcomer's shell gives `npm start`.
  const child = spawn(process.execPath, [SERVER], {
    cwd: work,
    env: { PATH: process.env.PATH ?? '', ...env, HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => (serverOutput += d));
  child.stderr.on('data', (d) => (serverOutput += d));
  try {
    await waitReady(url, child, () => serverOutput);
    log(`server ready at ${url} with ${Object.keys(env).join(', ') || 'no variables'} from the README's start line`);
    const scriptFile = path.join(work, 'walkthrough.sh');
    writeFileSync(scriptFile, script);
    const shellStarted = Date.now();
    const bash = spawn('bash', ['-euo', 'pipefail', scriptFile], {
      cwd: work,
      env: { PATH: process.env.PATH ?? '', HOME: work, B: url },
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    let shellErrors = '';
    bash.stderr.on('data', (d) => {
      const text = String(d);
      shellErrors += text;
      process.stderr.write(text.split('\n').filter((l) => !l.startsWith(FAILED_AT)).join('\n'));
    });
    const code = await new Promise((resolve) => bash.once('close', (c) => resolve(c ?? 1)));
    if (code !== 0) {
      log(`FAILED (exit ${code}) at ${failedCommand(shellErrors, script, lineMap)}`);
      log(`server log:\n${serverOutput.split('\n').slice(-30).join('\n')}`);
      return code;
    }
    log(`${blocks.length} blocks passed in ${((Date.now() - shellStarted) / 1000).toFixed(1)} s (${((Date.now() - started) / 1000).toFixed(1)} s with the server's start)`);
    return 0;
  } finally {
    await stop(child);
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`[readme-walkthrough] ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(2);
    },
  );
}
