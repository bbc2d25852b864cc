/**
 * npm run bench [-- --users 100000] [-- --only me,login] [-- --seconds 6] [-- --profile]
 *
 * Builds the service, seeds a temporary SQLite database, starts the compiled service and the
 * baseline server side by side, runs the scenarios and prints one table (also written to
 * bench/results/latest.json and latest.md). Exits 0 even when a target fails: it is a report.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { summariseProfile } from './profile-summary.js';
import { BENCH_RATE_LIMITS, type Child, REPO_ROOT, rssMb, SERVICE_ENTRY, SERVICE_STDOUT, spawnBaseline, spawnService, waitFor200 } from './processes.js';
import { formatTable, type Report, writeReport } from './report.js';
import * as s from './scenarios.js';
import { attendanceBurst } from './scenarios-attendance.js';
import { qrGenerate, qrPng, qrSvg } from './scenarios-qr.js';
import { loginTiming } from './scenarios-login-timing.js';
import { mePostgres } from './scenarios-postgres.js';
import { meDuringScans, mePacedDuringLogin } from './scenarios-paced.js';
import { seedDatabase } from './seed.js';

const RESULTS = path.join(REPO_ROOT, 'bench/results');

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '10000' },
    only: { type: 'string' },
    seconds: { type: 'string', default: '6' },
    profile: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
  },
});
const users = Number(values.users);
const seconds = Number(values.seconds);
if (!Number.isInteger(users) || users < 200) throw new Error('--users must be an integer ≥ 200');
if (!(seconds >= 1 && seconds <= 30)) throw new Error('--seconds must be from 1 to 30');
const only = values.only?.split(',').map((x) => x.trim()).filter(Boolean);
const unknown = only?.filter((x) => !(s.SCENARIOS as readonly string[]).includes(x)) ?? [];
if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${s.SCENARIOS.join(', ')}`);
const selected = new Set<s.ScenarioName>((only as s.ScenarioName[] | undefined) ?? s.SCENARIOS);

const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

const report: Report = {
  startedAt: new Date().toISOString(),
  command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  machine: { cores: os.availableParallelism(), node: process.version, cpu: os.cpus()[0]?.model ?? 'unknown' },
  users,
  notes: [],
  rows: [],
};

function build(): void {
  if (values['no-build']) return;
  log('npm run build');
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (r.status !== 0) {
    if (!existsSync(SERVICE_ENTRY)) throw new Error(`build failed and there is no ${SERVICE_ENTRY}:\n${r.stdout}${r.stderr}`);
    const errors = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes('error TS')).length;
    report.notes.push(`npm run build reported ${errors} type error(s); tsc still emitted dist/, which was benchmarked`);
  }
}

const children: Child[] = [];
const cleanups: (() => void)[] = [];
const stopAll = async () => {
  for (const child of children.splice(0)) await child.stop();
};
process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));

/** Other work on the machine skews every number: say how busy it was. */
function noteLoad(when: string, judge = true): void {
  const [one] = os.loadavg();
  const busy = judge && (one ?? 0) > os.availableParallelism() / 2;
  report.notes.push(`load average ${when}: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}${busy ? ' — the machine is busy with other work: numbers are unreliable' : ''}`);
}

/** When an untouched service's memory counts as idle (see the rss rows). */
const IDLE_RSS_AFTER_MS = 12_000;

async function main(): Promise<void> {
  noteLoad('at start (before the build)');
  build();
  log(`seeding ${users} users`);
  const seed = await seedDatabase(users);
  cleanups.push(() => rmSync(seed.dir, { recursive: true, force: true }));
  report.notes.push(`seeded ${users} users in ${seed.ms.toFixed(0)} ms (one shared argon2id hash) at ${seed.file}`);

  const profileDir = path.join(RESULTS, 'profiles');
  if (values.profile) mkdirSync(profileDir, { recursive: true });
  const service = await spawnService(seed.dir, values.profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []);
  children.push(service);
  await waitFor200(service, '/health/db');
  report.notes.push(
    `service: node ${values.profile ? '--cpu-prof ' : ''}dist/server/main.mjs (pid ${service.pid}), NODE_ENV=production, ` +
      `LOG_LEVEL=info, stdout to ${SERVICE_STDOUT}, ${Object.keys(BENCH_RATE_LIMITS).join('/')}=10000000 (limiters run, never refuse)`,
  );

  if (selected.has('rss')) {
    const healthy = performance.now();
    const sleepUntil = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, healthy + ms - performance.now())));
    await sleepUntil(1000);
    const early = rssMb(service.pid);
    // Start-up leaves V8's young generation grown (~12 MB committed, ~3 MB used); its memory
    // reducer gives that back about 8 s later when the process stays idle. Idle is after that.
    await sleepUntil(IDLE_RSS_AFTER_MS);
    const idle = rssMb(service.pid);
    report.rows.push({ scenario: 'rss 1 s after healthy', measured: `${early.toFixed(1)} MB` });
    report.rows.push({
      scenario: `rss idle (${IDLE_RSS_AFTER_MS / 1000} s after healthy)`,
      target: '≤ 80 MB',
      measured: `${idle.toFixed(1)} MB`,
      pass: idle <= 80,
    });
  }

  const tokens = { me: await s.login(service.url, seed.email(1)), admin: await s.login(service.url, seed.admin.email) };
  const baseline = await spawnBaseline(seed.file, await s.meBodyBytes(service.url, tokens.me));
  children.push(baseline);
  await waitFor200(baseline, '/health');
  const ctx: s.BenchContext = { service, baseline, seed, seconds, rows: report.rows, notes: report.notes, meUser: 1, tokens };
  report.notes.push(`baseline: bench/baseline-server.ts (pid ${baseline.pid}) on the same database file`);
  await s.checkBodySizes(ctx);

  const run: Record<string, (c: s.BenchContext) => Promise<void>> = {
    me: s.me,
    'me-during-login': s.meDuringLogin,
    'me-during-scans': meDuringScans,
    login: s.loginScenario,
    'me-paced-during-login': mePacedDuringLogin,
    register: s.register,
    'login-timing': loginTiming,
    'qr-png': qrPng,
    'qr-svg': qrSvg,
    'qr-generate': qrGenerate,
    'users-page': s.usersPage,
    attendance: attendanceBurst,
  };
  for (const group of s.GROUPS) {
    const chosen = group.filter((name) => selected.has(name));
    if (chosen.length === 0) continue;
    log(`baseline, then ${chosen.join(', ')}`);
    await s.measureBaseline(ctx, chosen.join('+'));
    for (const name of chosen) {
      log(name);
      await (run[name] as (c: s.BenchContext) => Promise<void>)(ctx);
    }
  }

  // Not judged: the bench's own load raised it.
  noteLoad('after the load runs (includes the bench itself)', false);
  if (selected.has('rss')) {
    const after = rssMb(service.pid);
    report.rows.push({ scenario: 'rss after runs', measured: `${after.toFixed(1)} MB` });
  }
  await stopAll();

  if (selected.has('me-pg')) {
    log('me-pg (PostgreSQL)');
    await mePostgres({ seed, seconds, rows: report.rows, notes: report.notes });
  }

  if (selected.has('cold-start')) {
    log('cold-start');
    await s.coldStart(ctx);
  }

  if (values.profile) {
    // The service writes one profile per thread (main + each hash worker): the main thread's is
    // the largest of this run's.
    const main = readdirSync(profileDir)
      .filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${service.pid}.`))
      .map((f) => path.join(profileDir, f))
      .sort((a, b) => statSync(b).size - statSync(a).size)[0];
    if (main !== undefined) report.notes.push(...summariseProfile(main, 25).map((l) => `profile: ${l}`));
  }
}

try {
  await main();
} catch (error) {
  report.notes.push(`ABORTED: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await stopAll();
  for (const cleanup of cleanups) cleanup();
}

const failed = report.rows.filter((r) => r.pass === false).map((r) => r.scenario.trim());
process.stdout.write(`\n${formatTable(report.rows)}\n\n${report.notes.map((n) => `- ${n}`).join('\n')}\n`);
const aborted = process.exitCode === 1;
process.stdout.write(
  aborted ? '\nABORTED: the run did not finish (see the notes)\n' : failed.length > 0 ? `\nFAIL: ${failed.join(', ')}\n` : '\nAll targets PASS\n',
);
writeReport(report, RESULTS);
