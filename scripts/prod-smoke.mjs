#!/usr/bin/env node
// Starts the bundled server the way the image does (node dist/server/main.mjs, NODE_ENV=production)
// from a folder holding only dist/ and production node_modules, then measures and checks it:
//   cold start   spawn -> first 200 from /health/ready, in ms
//   RSS idle     VmRSS (/proc/PID/status) after start-up has settled
//   RSS loaded   VmRSS and VmHWM (peak) after a short bounded load: reads, registrations, logins
//   the bundle   what only runs on demand works from dist/server: the CPU workers (cpu-worker.mjs:
//                password hashing, and QR decoding with zxing-wasm's .wasm read from node_modules),
//                niced to 19 (piscina does it through an optional native package: it must be in
//                the production install), the profile, a QR image and a scan of it, a large QR
//                image (drawn on a worker), a hostile image refused while /health/live keeps
//                answering, Swagger UI's page and assets
//   logs         JSON lines (production), none holding the admin password
//   shutdown     SIGTERM -> exit code 0
// Usage: node scripts/prod-smoke.mjs <runtime folder> <data folder>. Exit 1 on any failure.
// Called by scripts/verify-prod.sh; only Node's own modules, so it runs before any install.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { crc32, deflateSync } from 'node:zlib';

const [runtimeDir, dataDir] = process.argv.slice(2);
if (!runtimeDir || !dataDir) {
  console.error('usage: node scripts/prod-smoke.mjs <runtime folder> <data folder>');
  process.exit(2);
}

const READY_DEADLINE_MS = 60_000;
const SETTLE_MS = 2_000;
const ADMIN = { email: 'smoke-admin@example.com', password: `pw-${randomBytes(12).toString('hex')}` };

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

const fail = (message) => {
  throw new Error(message);
};

/** The nice value of each thread of a process (field 19 of /proc/PID/task/TID/stat). */
function threadNices(pid) {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

/** A 1-bit side × side checkerboard PNG (~7.5 KB at 4000): the security finding's image. */
function checkerboardPng(side) {
  const chunk = (type, data) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'latin1');
    data.copy(out, 8);
    out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header[8] = 1; // bit depth; colour type 0 (grey)
  const stride = Math.ceil(side / 8) + 1;
  const raw = Buffer.alloc(stride * side);
  for (let y = 0; y < side; y++) raw.fill(y % 2 === 0 ? 0x55 : 0xaa, y * stride + 1, (y + 1) * stride);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const env = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  PORT: String(port),
  DATA_DIR: dataDir,
  JWT_SECRET: randomBytes(48).toString('base64'),
  ADMIN_EMAIL: ADMIN.email,
  ADMIN_PASSWORD: ADMIN.password,
  LOG_LEVEL: 'info',
};

const started = performance.now();
const child = spawn(process.execPath, ['dist/server/main.mjs'], { cwd: runtimeDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
let stdout = '';
let stderr = '';
child.stdout.on('data', (d) => (stdout += d));
child.stderr.on('data', (d) => (stderr += d));
const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
let exitedEarly = false;
void exited.then(() => (exitedEarly = true));

try {
  let coldStartMs = null;
  while (performance.now() - started < READY_DEADLINE_MS) {
    if (exitedEarly) fail(`the server exited during start-up:\n${stderr || stdout}`);
    try {
      const res = await fetch(`${base}/health/ready`);
      if (res.status === 200) {
        coldStartMs = performance.now() - started;
        break;
      }
    } catch {
      // not listening yet
    }
    await delay(10);
  }
  if (coldStartMs === null) fail(`/health/ready did not answer 200 within ${READY_DEADLINE_MS / 1000} s:\n${stderr || stdout}`);

  await delay(SETTLE_MS);
  const idle = memory(child.pid);

  // A short load, bounded in count: 2000 reads, 20 registrations, 60 logins (argon2id, 19 MiB each).
  const json = { 'content-type': 'application/json' };
  const reads = Array.from({ length: 2000 }, (_, i) => (i % 2 === 0 ? '/' : '/health/ready'));
  for (let i = 0; i < reads.length; i += 50) {
    const batch = await Promise.all(reads.slice(i, i + 50).map((p) => fetch(`${base}${p}`).then((r) => r.status)));
    if (batch.some((s) => s !== 200)) fail(`a read answered ${batch.find((s) => s !== 200)}`);
  }
  const users = Array.from({ length: 20 }, (_, i) => ({
    username: `smoke_${i}`,
    email: `smoke_${i}@example.com`,
    password: `smoke-password-${i}`,
  }));
  const regs = await Promise.all(
    users.map((u) => fetch(`${base}/auth/register`, { method: 'POST', headers: json, body: JSON.stringify(u) })),
  );
  if (regs.some((r) => r.status !== 201)) fail(`registration answered ${regs.map((r) => r.status).join(',')}`);
  for (let round = 0; round < 3; round += 1) {
    const logins = await Promise.all(
      users.map((u) =>
        fetch(`${base}/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ email: u.email, password: u.password }) }),
      ),
    );
    if (logins.some((r) => r.status !== 200)) fail(`login answered ${logins.map((r) => r.status).join(',')}`);
  }
  const adminLogin = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ email: ADMIN.email, password: ADMIN.password }),
  });
  if (adminLogin.status !== 200) fail(`ADMIN_EMAIL/ADMIN_PASSWORD did not create a working admin (${adminLogin.status})`);
  const loaded = memory(child.pid);

  // The parts of the bundle that load on first use.
  const { access_token: token } = await adminLogin.json();
  const auth = { authorization: `Bearer ${token}` };
  const me = await fetch(`${base}/users/me`, { headers: auth });
  if (me.status !== 200 || (await me.json()).email !== ADMIN.email) fail(`GET /users/me answered ${me.status}`);
  const generated = await fetch(`${base}/qr/generate`, { method: 'POST', headers: auth });
  if (generated.status !== 200) fail(`POST /qr/generate answered ${generated.status}`);
  const badge = await generated.json();
  const image = await fetch(`${base}/qr/${(await fetch(`${base}/users/me`, { headers: auth }).then((r) => r.json())).id}/image?format=png`, { headers: auth });
  if (image.status !== 200 || image.headers.get('content-type') !== 'image/png') fail(`GET /qr/{id}/image answered ${image.status}`);
  const scan = await fetch(`${base}/qr/scan`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'image/png' },
    body: Buffer.from(await image.arrayBuffer()),
  });
  const scanned = scan.status === 200 ? await scan.json() : null;
  if (scanned?.data !== badge.data) fail(`POST /qr/scan answered ${scan.status}: ${JSON.stringify(scanned)}`);
  // The same image as a multipart upload (the bundle builds @fastify/multipart without FormData).
  const form = new FormData();
  form.append('file', new Blob([Buffer.from(await (await fetch(image.url, { headers: auth })).arrayBuffer())], { type: 'image/png' }), 'badge.png');
  const multipartScan = await fetch(`${base}/qr/scan`, { method: 'POST', headers: auth, body: form });
  const multipartScanned = multipartScan.status === 200 ? await multipartScan.json() : null;
  if (multipartScanned?.data !== badge.data) fail(`POST /qr/scan (multipart) answered ${multipartScan.status}: ${JSON.stringify(multipartScanned)}`);
  // A large image is drawn on a CPU worker too (its qrcode encoder bundled into cpu-worker.mjs).
  const large = await fetch(`${base}/qr/encode`, {
    method: 'POST',
    headers: { ...auth, ...json },
    body: JSON.stringify({ data: 'x'.repeat(1000), size: 1500, ecc: 'L' }),
  });
  const largeBytes = Buffer.from(await large.arrayBuffer());
  if (large.status !== 200 || largeBytes.readUInt32BE(16) !== 1500) fail(`POST /qr/encode of a large image answered ${large.status}`);
  // Password hashes, this scan and that drawing ran on the CPU workers, which must be niced.
  const niced = threadNices(child.pid).filter((n) => n === 19).length;
  if (niced === 0) fail('no thread of the server runs at nice 19: the CPU workers are not niced (is @napi-rs/nice installed?)');
  // The security finding: a 7.5 KB image that held the event loop 30 s. Liveness must answer
  // while it is read, and the image must be refused with a 422.
  const hostile = fetch(`${base}/qr/scan`, { method: 'POST', headers: { ...auth, 'content-type': 'image/png' }, body: checkerboardPng(4000) });
  const order = [];
  const [hostileRes, live] = await Promise.all([
    hostile.then((r) => (order.push('scan'), r)),
    delay(50).then(() => fetch(`${base}/health/live`)).then((r) => (order.push('live'), r)),
  ]);
  if (live.status !== 200 || order[0] !== 'live') fail(`/health/live did not answer while a hostile image was read (${order.join(', ')})`);
  const hostileBody = await hostileRes.json();
  if (hostileRes.status !== 422 || !['NO_QR_FOUND', 'IMAGE_TOO_COMPLEX'].includes(hostileBody.code)) {
    fail(`the 4000×4000 checkerboard answered ${hostileRes.status} ${JSON.stringify(hostileBody)}`);
  }
  const docs = await fetch(`${base}/docs`);
  const page = await docs.text();
  const asset = /src="([^"]+swagger-ui-bundle\.js)"/.exec(page)?.[1];
  if (docs.status !== 200 || asset === undefined) fail(`GET /docs answered ${docs.status} without the Swagger UI script`);
  const script = await fetch(new URL(asset, `${base}/docs/`));
  if (script.status !== 200 || (await script.text()).length < 100_000) fail(`Swagger UI's script answered ${script.status}`);

  // The web front from the bundle: pages, their stylesheet and islands (built into dist/web/assets).
  const home = await fetch(`${base}/`, { headers: { accept: 'text/html' } });
  const homeHtml = await home.text();
  const css = /href="(\/assets\/site-[^"]+\.css)"/.exec(homeHtml)?.[1];
  if (home.status !== 200 || css === undefined) fail(`GET / for a browser answered ${home.status} without the stylesheet`);
  const cssRes = await fetch(`${base}${css}`);
  if (cssRes.status !== 200 || !/immutable/.test(cssRes.headers.get('cache-control') ?? '')) fail(`the stylesheet answered ${cssRes.status}`);
  const check = await (await fetch(`${base}/check`, { headers: { accept: 'text/html' } })).text();
  const island = /src="(\/assets\/badge-check-[^"]+\.js)"/.exec(check)?.[1];
  if (island === undefined || (await fetch(`${base}${island}`)).status !== 200) fail('the badge checker\'s island is not served');
  const signIn = await fetch(`${base}/sign-in`, { headers: { accept: 'text/html' } });
  if (signIn.status !== 200 || !(await signIn.text()).includes('name="_csrf"')) fail(`GET /sign-in answered ${signIn.status}`);

  const lines = stdout.trim().split('\n').filter(Boolean);
  const notJson = lines.filter((l) => {
    try {
      JSON.parse(l);
      return false;
    } catch {
      return true;
    }
  });
  if (lines.length === 0 || notJson.length > 0) fail(`production logs are not JSON lines: ${notJson[0] ?? '(no log)'}`);
  if ((stdout + stderr).includes(ADMIN.password)) fail('the admin password reached the log');

  child.kill('SIGTERM');
  const result = await Promise.race([exited, delay(15_000).then(() => null)]);
  if (result === null) fail('the server did not exit within 15 s of SIGTERM');
  if (result.code !== 0) fail(`SIGTERM: exit code ${result.code} (signal ${result.signal}), expected 0:\n${stderr}`);

  const r = (n) => n.toFixed(1);
  console.log(`cold start (spawn -> /health/ready 200): ${Math.round(coldStartMs)} ms`);
  console.log(`RSS idle: ${r(idle.rssMiB)} MiB`);
  console.log(`RSS after load (2000 reads, 20 registrations, 61 logins): ${r(loaded.rssMiB)} MiB (peak ${r(loaded.peakMiB)} MiB)`);
  console.log(`bundle: profile, QR image and its scan (raw and multipart), a 1500 px QR image (CPU workers, ${niced} at nice 19), Swagger UI page and script, web pages with their stylesheet and islands: OK`);
  console.log(`hostile 4000×4000 checkerboard: ${hostileRes.status} ${hostileBody.code}, /health/live answered first`);
  console.log(`logs: ${lines.length} JSON lines; SIGTERM: exit 0`);
} catch (error) {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  console.error(`prod-smoke: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
