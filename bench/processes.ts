/**
 * Child processes of the bench: the compiled service and the baseline server, each on a free
 * port of 127.0.0.1, each stopped by its own pid. Also the probes the scenarios read from them:
 * "first 200 from a URL" and the resident set size from /proc.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { freePort } from '../test/helpers/server-process.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SERVICE_ENTRY = path.join(REPO_ROOT, 'dist/server/main.mjs');
/** Where the service's stdout (its pino log, LOG_LEVEL=info) goes: stdio 'ignore' is /dev/null. */
export const SERVICE_STDOUT = '/dev/null';

export interface Child {
  name: string;
  child: ChildProcess;
  pid: number;
  url: string;
  stderr(): string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}


function track(name: string, child: ChildProcess, url: string): Child {
  if (child.pid === undefined) throw new Error(`${name}: spawn failed`);
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-8000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  return {
    name,
    child,
    pid: child.pid,
    url,
    stderr: () => err,
    exited,
    async stop() {
      if (done) return;
      process.kill(child.pid as number, 'SIGTERM');
      const timer = setTimeout(() => {
        if (!done) process.kill(child.pid as number, 'SIGKILL');
      }, 12_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export const BENCH_RATE_LIMITS = {
  RATE_LIMIT_LOGIN_PER_IP: '10000000',
  RATE_LIMIT_LOGIN_PER_ACCOUNT: '10000000',
  RATE_LIMIT_REGISTER_PER_IP: '10000000',
  RATE_LIMIT_QR_SCAN_PER_USER: '10000000',
};

export function serviceEnv(dataDir: string, port: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dataDir,
    DATABASE_URL: `sqlite:${path.join(dataDir, 'app.db')}`,
    JWT_SECRET: randomBytes(48).toString('base64'),
    LOG_LEVEL: 'info',
    ACCESS_TOKEN_TTL: '3600',
    // The load comes from one address and measures throughput, not abuse protection: the
    // limiters stay in the request path (their cost is measured) but never answer 429.
    ...BENCH_RATE_LIMITS,
    ...extra,
  };
}

/** `node dist/server/main.mjs` (the bundle `npm start` runs), log to /dev/null; `nodeFlags` e.g. --cpu-prof. */
export async function spawnService(dataDir: string, nodeFlags: string[] = [], extraEnv: Record<string, string> = {}): Promise<Child> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeFlags, SERVICE_ENTRY], {
    cwd: dataDir,
    env: serviceEnv(dataDir, port, extraEnv),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return track('service', child, `http://127.0.0.1:${port}`);
}

/** `bodyBytes`: pad the baseline's answer to this size (the size of GET /users/me's body). */
export async function spawnBaseline(dbFile: string, bodyBytes = 0, pgUrl?: string): Promise<Child> {
  const port = await freePort();
  const database = pgUrl === undefined ? { BASELINE_DB: dbFile } : { BASELINE_PG_URL: pgUrl };
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'bench/baseline-server.ts')], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...database, BASELINE_PORT: String(port), BASELINE_BODY_BYTES: String(bodyBytes) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return track('baseline', child, `http://127.0.0.1:${port}`);
}

/** Status code of one GET, or 0 when nothing answers (yet). No keep-alive: a probe. */
export function statusOf(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', () => resolve(0));
  });
}

/** Polls until `url` answers 200; returns the milliseconds since `since`. */
export async function waitFor200(target: Child, pathname: string, since = performance.now(), timeoutMs = 30_000): Promise<number> {
  let exited = false;
  void target.exited.then(() => {
    exited = true;
  });
  while (performance.now() - since < timeoutMs) {
    if (exited) throw new Error(`${target.name} exited before answering:\n${target.stderr()}`);
    if ((await statusOf(target.url + pathname)) === 200) return performance.now() - since;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`${target.name} did not answer 200 on ${pathname} within ${timeoutMs} ms:\n${target.stderr()}`);
}

/** CPU time (user + system, all threads) a process has used so far, in ms (/proc, 10 ms ticks). */
export const cpuMs = (pid: number): number => statCpuMs(`/proc/${pid}/stat`);

/** utime + stime of a /proc stat file (a process's, or one thread's under task/), in ms. */
function statCpuMs(file: string): number {
  const fields = readFileSync(file, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * CPU time of a process's main thread (its event loop, for Node) and of all its other threads
 * together (workers, libuv and V8 helpers, and threads that have exited), in ms.
 */
export function threadCpuMs(pid: number): { main: number; others: number } {
  const main = statCpuMs(`/proc/${pid}/task/${pid}/stat`);
  return { main, others: cpuMs(pid) - main };
}

/** VmRSS of a process, in MB. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (kb === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb[1]) / 1024;
}
