/**
 * npm run bench:oidc [-- --seconds 6] [-- --codes 1500] [-- --no-build]
 *
 * The OpenID Connect token endpoint's throughput on the compiled service (SQLite), beside
 * GET /users/me in the same run and by the same client loop (fetch, keep-alive, 16 in flight),
 * so the ratio holds on a noisy shared machine:
 * - code exchange: codes obtained beforehand (trusted client, signed-in browsers, PKCE S256),
 *   then exchanged as fast as they go (each is single-use: the run is as long as the codes last);
 * - refresh grant: 16 refresh-token chains, each refresh rotating the token it uses.
 * Prints a table and writes bench/results/oidc-token.json and .md.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateSigningJwk } from '../src/auth/tokens/keys.js';
import { MiniBrowser } from '../test/oidc/helpers.js';
import { freePort } from '../test/helpers/server-process.js';
import { REPO_ROOT, SERVICE_ENTRY, serviceEnv } from './processes.js';
import { SEED_PASSWORD, seedDatabase } from './seed.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '6' }, codes: { type: 'string', default: '1500' }, 'no-build': { type: 'boolean', default: false } },
});
const seconds = Number(values.seconds);
const codeCount = Number(values.codes);
const CONCURRENCY = 16;
const BROWSERS = 8;
const CALLBACK = 'http://127.0.0.1:9/callback';
const log = (m: string) => process.stderr.write(`[bench:oidc] ${m}\n`);

if (!values['no-build']) {
  log('npm run build');
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
}

const seed = await seedDatabase(200);
const port = await freePort();
const origin = `http://127.0.0.1:${port}`;
const key = await generateSigningJwk();
const child = spawn(process.execPath, [SERVICE_ENTRY], {
  cwd: seed.dir,
  env: serviceEnv(seed.dir, port, { PUBLIC_URL: origin, JWT_SIGNING_KEYS: JSON.stringify([key]), RATE_LIMIT_OIDC_TOKEN_PER_IP: '10000000' }),
  stdio: ['ignore', 'ignore', 'pipe'],
});
let stderr = '';
child.stderr?.on('data', (d: Buffer) => {
  stderr += d.toString();
});

/** `work` run by CONCURRENCY loops until `until()` says stop; returns completed calls per second. */
async function loops(work: (worker: number) => Promise<boolean>, until: () => boolean): Promise<{ perSecond: number; count: number; failures: number }> {
  let count = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      while (!until()) {
        if (await work(worker)) count += 1;
        else failures += 1;
      }
    }),
  );
  const ms = performance.now() - started;
  return { perSecond: (count / ms) * 1000, count, failures };
}

const timed = (s: number) => {
  const end = performance.now() + s * 1000;
  return () => performance.now() >= end;
};

try {
  for (let i = 0; i < 300; i++) {
    const ok = await fetch(`${origin}/health/db`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const apiLogin = async (email: string) => {
    const res = await fetch(`${origin}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: SEED_PASSWORD }) });
    if (res.status !== 200) throw new Error(`login ${res.status}: ${await res.text()}\n${stderr}`);
    return ((await res.json()) as { access_token: string }).access_token;
  };
  const adminToken = await apiLogin(seed.admin.email);
  const created = await fetch(`${origin}/admin/oidc/clients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ name: 'Bench', redirect_uris: [CALLBACK], type: 'confidential', scopes: ['openid', 'profile', 'email', 'roles', 'offline_access'], trusted: true }),
  });
  const client = (await created.json()) as { client_id: string; client_secret: string };
  const basic = `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`;

  log(`obtaining ${codeCount} codes through ${BROWSERS} signed-in browsers`);
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const authUrl = `${origin}/oidc/auth?${new URLSearchParams({ client_id: client.client_id, response_type: 'code', redirect_uri: CALLBACK, scope: 'openid profile email roles offline_access', prompt: 'consent', code_challenge: challenge, code_challenge_method: 'S256' })}`;
  const codes: string[] = [];
  const codeStart = performance.now();
  await Promise.all(
    Array.from({ length: BROWSERS }, async (_, b) => {
      const browser = new MiniBrowser(origin);
      const credentials = { login: seed.email(b + 1), password: SEED_PASSWORD };
      while (codes.length < codeCount) {
        const callback = await browser.authorize(authUrl, credentials);
        const code = new URL(callback).searchParams.get('code');
        if (code === null) throw new Error(`no code: ${callback}`);
        codes.push(code);
      }
    }),
  );
  const authorizeMs = (performance.now() - codeStart) / codes.length;

  const meToken = await apiLogin(seed.email(20));
  const me = await loops(async () => (await fetch(`${origin}/users/me`, { headers: { authorization: `Bearer ${meToken}` } }).then((r) => r.arrayBuffer().then(() => r.ok))), timed(seconds));
  log(`/users/me ${me.perSecond.toFixed(0)}/s`);

  const refreshTokens: string[] = [];
  let next = 0;
  const exchange = await loops(
    async () => {
      const code = codes[next++];
      if (code === undefined) return true;
      const res = await fetch(`${origin}/oidc/token`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier }),
      });
      const body = (await res.json()) as { refresh_token?: string };
      if (body.refresh_token !== undefined && refreshTokens.length < CONCURRENCY) refreshTokens.push(body.refresh_token);
      return res.ok;
    },
    () => next >= codes.length,
  );
  log(`code exchange ${exchange.perSecond.toFixed(0)}/s (${exchange.count} codes, ${exchange.failures} failures)`);

  const refresh = await loops(async (worker) => {
    const token = refreshTokens[worker];
    if (token === undefined) return false;
    const res = await fetch(`${origin}/oidc/token`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }),
    });
    const body = (await res.json()) as { refresh_token?: string };
    if (body.refresh_token !== undefined) refreshTokens[worker] = body.refresh_token;
    return res.ok;
  }, timed(seconds));
  log(`refresh ${refresh.perSecond.toFixed(0)}/s`);

  const rows = [
    { scenario: 'GET /users/me (same loop)', perSecond: me.perSecond, ratio: 1, failures: me.failures },
    { scenario: 'POST /oidc/token code exchange', perSecond: exchange.perSecond, ratio: exchange.perSecond / me.perSecond, failures: exchange.failures },
    { scenario: 'POST /oidc/token refresh grant (rotating)', perSecond: refresh.perSecond, ratio: refresh.perSecond / me.perSecond, failures: refresh.failures },
  ];
  const table = [
    '| scenario | per second | vs /users/me | failures |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.scenario} | ${r.perSecond.toFixed(0)} | ${(r.ratio * 100).toFixed(1)} % | ${r.failures} |`),
  ].join('\n');
  const notes = [
    `machine: ${os.availableParallelism()} cores, ${os.cpus()[0]?.model ?? 'unknown'}, node ${process.version}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`,
    `compiled service (dist/server/main.mjs), SQLite, NODE_ENV=production; client: fetch, keep-alive, ${CONCURRENCY} in flight, ${seconds} s (code exchange: ${codes.length} codes)`,
    `one authorization (code + PKCE through /oidc/auth, the interaction page and back, signed-in trusted client) took ${authorizeMs.toFixed(1)} ms of wall time with ${BROWSERS} in parallel`,
  ];
  process.stdout.write(`\n${table}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`);
  const results = path.join(REPO_ROOT, 'bench/results');
  mkdirSync(results, { recursive: true });
  writeFileSync(path.join(results, 'oidc-token.json'), `${JSON.stringify({ at: new Date().toISOString(), rows, notes }, null, 2)}\n`);
  writeFileSync(path.join(results, 'oidc-token.md'), `# npm run bench:oidc\n\n${table}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`);
} finally {
  child.kill('SIGTERM');
  rmSync(seed.dir, { recursive: true, force: true });
}
