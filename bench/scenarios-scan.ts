/**
 * me-during-scans: does a cheap request still answer promptly while large photos are being read?
 * GET /users/me by the paced probe (150/s, 1,500 requests), first with the service idle, then
 * while another process keeps POST /qr/scan busy with 12–16 MP photos (bench/scan-load.ts, as
 * many at once as the scan queue admits: two per worker). Target: p99 during the scans ≤ 3× the
 * idle p99 measured just before, the same target as me-during-login.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { pacedProbe, type ProbeResult } from './paced-probe.js';
import { REPO_ROOT } from './processes.js';
import type { BenchContext } from './scenarios.js';
import { login, times } from './scenarios.js';
import { benchImages } from './scan-photos.js';

/** The scan queue's size on this machine (two per worker, one worker per core): none refused. */
const SCAN_CONNECTIONS = 4;
/** Scans start this long before the probe, so that the workers are busy from its first request. */
const RAMP_MS = 2000;

function startScanLoad(url: string, token: string, files: string[], seconds: number): { child: ChildProcess; result: Promise<string> } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/scan-load.ts', '--url', url, '--token', token, '--files', files.join(','), '--connections', String(SCAN_CONNECTIONS), '--seconds', String(seconds)],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const result = new Promise<string>((resolve) => child.once('exit', () => resolve(out.trim())));
  return { child, result };
}

const probeNote = (r: ProbeResult) =>
  `p50 ${r.p50} ms, max ${r.max} ms${r.failures > 0 ? `, ${r.failures} failed` : ''}${r.late > 0 ? `, ${r.late} sent late` : ''}`;

export async function meDuringScans(ctx: BenchContext): Promise<void> {
  const images = benchImages({ hostile: false }).filter((image) => image.bytes.length > 1024 * 1024);
  const files = images.map((image) => image.file);
  const probe = { url: `${ctx.service.url}/users/me`, headers: { authorization: `Bearer ${ctx.tokens.me}` } };
  const scanToken = await login(ctx.service.url, ctx.seed.email(ctx.meUser + 2));

  await pacedProbe({ ...probe, count: 150 }); // warm-up, not recorded
  const idle = await pacedProbe(probe);
  ctx.rows.push({ scenario: 'me idle (paced probe)', p50: idle.p50, p99: idle.p99, measured: `150/s × 1500; ${probeNote(idle)}` });

  // Bounded: the load stops by itself after the probe's ten seconds and a margin, or at SIGTERM.
  const load = startScanLoad(ctx.service.url, scanToken, files, 30);
  await new Promise((resolve) => setTimeout(resolve, RAMP_MS));
  const during = await pacedProbe(probe);
  if (load.child.exitCode === null) process.kill(load.child.pid as number, 'SIGTERM');
  const scans = JSON.parse((await load.result) || '{}') as { requests?: number; answers?: Record<string, number>; perSecond?: number };

  const ratio = during.p99 / idle.p99;
  ctx.rows.push({
    scenario: 'me-during-scans',
    p50: during.p50,
    p99: during.p99,
    target: `p99 ≤ 3× idle (${idle.p99} ms)`,
    measured: `${times(ratio)}; ${probeNote(during)}`,
    pass: ratio <= 3 && during.failures === 0,
  });
  ctx.rows.push({
    scenario: '  scans meanwhile',
    rps: scans.perSecond,
    measured:
      `${scans.requests ?? 0} scans of ${images.length} photos (${images.map((i) => (i.bytes.length / 1024 / 1024).toFixed(1)).join(', ')} MiB), ` +
      `${SCAN_CONNECTIONS} at a time: ${Object.entries(scans.answers ?? {})
        .map(([answer, n]) => `${answer} × ${n}`)
        .join(', ')}`,
  });
}
