/**
 * Password hashing on worker threads at the lowest CPU priority. argon2id is ~20 ms of one core a
 * hash; on libuv's pool (4 threads on 2 cores) a burst of logins time-slices the event loop and
 * every other request waits (bench/: /users/me p99 ×6 during logins). Niced workers use all the
 * CPU the event loop leaves idle and yield the moment it has work: logins queue, nothing else does.
 *
 * The worker is a small CommonJS script (no build step, no loader: it runs the same from `src/`
 * under tsx and from `dist/`); the native modules' paths are resolved here and handed to it.
 * One pool per process, shared by every hasher: workers start on first use and exit after a
 * minute without work.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * The lowest priority: measured in bench/, /users/me's p99 during a login burst went from 6.7× to
 * 1.7× its idle p99. The price: on a box shared with other busy processes (the benchmark's own load
 * generator), logins get only the CPU those leave.
 */
const WORKER_NICE = 19;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
try { require('node:os').setPriority(workerData.nice); } catch {}
const argon2 = require(workerData.argon2);
const bcrypt = require(workerData.bcrypt);
parentPort.on('message', ({ id, op, password, hash, options }) => {
  try {
    const result =
      op === 'hash' ? argon2.hashSync(password, options)
      : op === 'argon2-verify' ? argon2.verifySync(hash, password)
      : bcrypt.verifySync(password, hash);
    parentPort.postMessage({ id, result });
  } catch (error) {
    parentPort.postMessage({ id, error: String((error && error.message) || error) });
  }
});
`;

export type HashJob =
  | { op: 'hash'; password: string; options: object }
  | { op: 'argon2-verify' | 'bcrypt-verify'; password: string; hash: string };

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface PoolWorker {
  worker: Worker;
  /** Ids of the jobs sent to this worker and not answered yet. */
  jobs: Set<number>;
  /** Ends the worker after WORKER_IDLE_MS without a job. */
  idle: NodeJS.Timeout | null;
}

export interface HashPool {
  run<T>(job: HashJob): Promise<T>;
  /** Workers alive now. */
  readonly size: number;
}

/**
 * A worker idle this long exits (its ~7 MB go back to the system; a small host runs for hours
 * between bursts of logins). The next job starts one again in ~30 ms.
 */
const WORKER_IDLE_MS = 60_000;

export function createHashPool(size: number, options: { idleMs?: number } = {}): HashPool {
  const idleMs = options.idleMs ?? WORKER_IDLE_MS;
  const require = createRequire(import.meta.url);
  const workerData = {
    argon2: require.resolve('@node-rs/argon2'),
    bcrypt: require.resolve('@node-rs/bcrypt'),
    nice: WORKER_NICE,
  };
  const workers: PoolWorker[] = [];
  const pending = new Map<number, Pending>();
  let nextId = 0;

  /** Out of the pool first (no job can reach it any more), then ended. */
  function retire(entry: PoolWorker): void {
    const index = workers.indexOf(entry);
    if (index < 0 || entry.jobs.size > 0) return;
    workers.splice(index, 1);
    void entry.worker.terminate();
  }

  function spawn(): PoolWorker {
    const entry: PoolWorker = { worker: new Worker(WORKER_SOURCE, { eval: true, workerData }), jobs: new Set(), idle: null };
    entry.worker.on('message', (message: { id: number; result?: unknown; error?: string }) => {
      entry.jobs.delete(message.id);
      if (entry.jobs.size === 0) {
        entry.worker.unref();
        entry.idle = setTimeout(() => retire(entry), idleMs);
        entry.idle.unref();
      }
      const job = pending.get(message.id);
      pending.delete(message.id);
      if (message.error !== undefined) job?.reject(new Error(message.error));
      else job?.resolve(message.result);
    });
    const fail = (error: Error) => {
      // A dead worker is replaced on the next job; its own jobs fail (the caller answers cleanly).
      const index = workers.indexOf(entry);
      if (index >= 0) workers.splice(index, 1);
      if (entry.idle !== null) clearTimeout(entry.idle);
      for (const id of entry.jobs) {
        pending.get(id)?.reject(error);
        pending.delete(id);
      }
      entry.jobs.clear();
    };
    entry.worker.on('error', fail);
    // Also the idle exit: the worker leaves the pool (with no jobs, nothing fails).
    entry.worker.on('exit', () => fail(new Error('password hashing worker exited')));
    // An idle worker never keeps the process alive; one with work to finish does (run() refs it).
    entry.worker.unref();
    return entry;
  }

  return {
    run<T>(job: HashJob): Promise<T> {
      if (workers.length < size) workers.push(spawn());
      // The least busy worker takes the job; each runs one hash at a time, the rest queue in it.
      const target = workers.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
      const id = nextId++;
      if (target.idle !== null) {
        clearTimeout(target.idle);
        target.idle = null;
      }
      target.jobs.add(id);
      if (target.jobs.size === 1) target.worker.ref();
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        target.worker.postMessage({ id, ...job });
      });
    },
    get size() {
      return workers.length;
    },
  };
}

let shared: HashPool | undefined;

/** The process's pool: one worker per core. */
export function hashPool(): HashPool {
  shared ??= createHashPool(Math.max(1, os.availableParallelism()));
  return shared;
}
