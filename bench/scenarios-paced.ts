/**
 * The paced-probe scenarios: does a cheap request still answer promptly while heavy work runs?
 * GET /users/me by the paced probe (150/s, 1,500 requests), first with the service idle, then
 * while another process (bench/load-process.ts) keeps the service busy:
 * - me-during-scans: POST /qr/scan of 12–16 MP photos, as many at once as the scan queue admits
 *   (two per worker);
 * - me-paced-during-login: a login flood of 16 connections (issue 17 part 1), and the logins a
 *   second it reaches meanwhile against the in-process ceiling of parallel hashes (part 5).
 * Target: p99 under the load ≤ 3× the idle p99 measured just before it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { pacedProbe, type ProbeResult } from './paced-probe.js';
import { cpuMs, REPO_ROOT, threadCpuMs } from './processes.js';
import type { BenchContext } from './scenarios.js';
import { ceilingAround, cpuPerLoginRow, login, parallelCeiling, times } from './scenarios.js';
import { SEED_PASSWORD } from './seed.js';
import { benchImages } from './scan-photos.js';

/** The scan queue's size on this machine (two per worker, one worker per core): none refused. */
const SCAN_CONNECTIONS = 4;
/** Scans start this long before the probe, so that the workers are busy from its first request. */
const RAMP_MS = 2000;

/** Logins in flight in the login flood (issue 17 part 1: 16 connections). */
const LOGIN_FLOOD_CONNECTIONS = 16;

/** bench/load-process.ts with these arguments, stopped by SIGTERM or after its own time. */
function startLoad(args: string[]): { child: ChildProcess; result: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/load-process.ts', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const result = new Promise<string>((resolve) => child.once('exit', () => resolve(out.trim())));
  return { child, result };
}

interface LoadSummary {
  requests?: number;
  answers?: Record<string, number>;
  perSecond?: number;
}

/**
 * The probe idle, then during the load (started RAMP_MS before, so the service is busy from the
 * probe's first request). Pushes the idle row and the judged row; returns the load's summary.
 */
async function probeAround(ctx: BenchContext, scenario: string, args: string[]): Promise<LoadSummary & { cpu: WindowCpu }> {
  const probe = { url: `${ctx.service.url}/users/me`, headers: { authorization: `Bearer ${ctx.tokens.me}` } };
  await pacedProbe({ ...probe, count: 150 }); // warm-up, not recorded
  const idle = await pacedProbe(probe);
  ctx.rows.push({ scenario: `me idle (paced probe, before ${scenario})`, p50: idle.p50, p99: idle.p99, measured: `150/s × 1500; ${probeNote(idle)}` });

  // Bounded: the load stops by itself after the probe's ten seconds and a margin, or at SIGTERM.
  const load = startLoad([...args, '--url', ctx.service.url, '--seconds', '30']);
  await new Promise((resolve) => setTimeout(resolve, RAMP_MS));
  const loadPid = load.child.pid as number;
  const cpu0 = { service: threadCpuMs(ctx.service.pid), load: cpuMs(loadPid), probe: process.cpuUsage(), at: performance.now() };
  const during = await pacedProbe(probe);
  const service = threadCpuMs(ctx.service.pid);
  const cpu: WindowCpu = {
    seconds: (performance.now() - cpu0.at) / 1000,
    eventLoop: service.main - cpu0.service.main,
    serviceOthers: service.others - cpu0.service.others,
    load: cpuMs(loadPid) - cpu0.load,
    probe: (({ user, system }) => (user + system) / 1000)(process.cpuUsage(cpu0.probe)),
  };
  if (load.child.exitCode === null) process.kill(loadPid, 'SIGTERM');
  const summary = JSON.parse((await load.result) || '{}') as LoadSummary;

  const ratio = during.p99 / idle.p99;
  ctx.rows.push({
    scenario,
    p50: during.p50,
    p99: during.p99,
    target: `p99 ≤ 3× idle (${idle.p99} ms)`,
    measured: `${times(ratio)}; ${probeNote(during)}`,
    pass: ratio <= 3 && during.failures === 0,
  });
  return { ...summary, cpu };
}

/** CPU time (ms) each party used while the probe ran under load. */
interface WindowCpu {
  seconds: number;
  eventLoop: number;
  serviceOthers: number;
  load: number;
  probe: number;
}

const answersNote = (summary: LoadSummary) =>
  Object.entries(summary.answers ?? {})
    .map(([answer, n]) => `${answer} × ${n}`)
    .join(', ');

const probeNote = (r: ProbeResult) =>
  `p50 ${r.p50} ms, max ${r.max} ms${r.failures > 0 ? `, ${r.failures} failed` : ''}${r.late > 0 ? `, ${r.late} sent late` : ''}`;

export async function meDuringScans(ctx: BenchContext): Promise<void> {
  const images = benchImages({ hostile: false }).filter((image) => image.bytes.length > 1024 * 1024);
  const files = images.map((image) => image.file);
  const scanToken = await login(ctx.service.url, ctx.seed.email(ctx.meUser + 2));
  const scans = await probeAround(ctx, 'me-during-scans', ['--kind', 'scan', '--token', scanToken, '--files', files.join(','), '--connections', String(SCAN_CONNECTIONS)]);
  ctx.rows.push({
    scenario: '  scans meanwhile',
    rps: scans.perSecond,
    measured:
      `${scans.requests ?? 0} scans of ${images.length} photos (${images.map((i) => (i.bytes.length / 1024 / 1024).toFixed(1)).join(', ')} MiB), ` +
      `${SCAN_CONNECTIONS} at a time: ${answersNote(scans)}`,
  });
}

/**
 * Issue 17 parts 1 and 5 in one run: the probe's p99 during a login flood from another process,
 * and the logins a second of that flood against the parallel-hash ceiling measured in-process
 * before and right after (the bench process idles while the flood runs: its hash threads are
 * quiet then).
 */
export async function mePacedDuringLogin(ctx: BenchContext): Promise<void> {
  const before = await parallelCeiling(ctx);
  const { cores } = before;
  const users = ctx.seed.firstLegacy - 10;
  const logins = await probeAround(ctx, 'me-paced-during-login', [
    '--kind', 'login', '--first', '10', '--users', String(users), '--password', SEED_PASSWORD, '--connections', String(LOGIN_FLOOD_CONNECTIONS),
  ]);
  const ceiling = (await ceilingAround(before)).perSecond;
  const ok = logins.answers?.['200'] ?? 0;
  const rate = ((logins.perSecond ?? 0) * ok) / Math.max(1, logins.requests ?? 0);
  ctx.rows.push({
    scenario: '  logins meanwhile',
    rps: Number(rate.toFixed(1)),
    target: `≥ 0.90 × ${cores} at a time = ${(0.9 * ceiling).toFixed(1)}/s`,
    measured: `${times(rate / ceiling)} of ${ceiling.toFixed(1)}/s; ${LOGIN_FLOOD_CONNECTIONS} connections: ${answersNote(logins)}`,
    pass: rate >= 0.9 * ceiling,
  });
  // Where the CPU went while the probe ran: per login, and the rate the cores allow with it.
  const { cpu } = logins;
  ctx.rows.push(
    cpuPerLoginRow('    CPU a login', rate * cpu.seconds, [
      ["service event loop (the probe's answers included)", cpu.eventLoop],
      ['other service threads (hashing)', cpu.serviceOthers],
      ['flood process', cpu.load],
      ['probe', cpu.probe],
    ], { cores, perSecond: ceiling }),
  );
}
