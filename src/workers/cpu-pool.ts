/**
 * The one pool of worker threads for CPU-heavy work (password hashing, reading QR codes in
 * images, drawing large QR images): piscina, the Fastify team's pool, rather than a hand-written
 * one. Nothing that takes more than a millisecond of CPU runs on the event loop: on it, one 20 ms
 * hash or one 2 s image makes every other request wait (bench/: /users/me p99 ×6 during logins;
 * p99 42 s while photos were scanned on the loop, 2.2× its idle p99 since they are scanned here).
 *
 * - Workers run at the lowest CPU priority (nice 19): they use all the CPU the event loop leaves
 *   idle and yield the moment it has work. Measured in bench/: /users/me's p99 during a login
 *   burst went from 6.7× to 1.7× its idle p99. The price: on a box shared with other busy
 *   processes, this work gets only the CPU those leave.
 * - One worker per core at most, none when idle: a worker exits after a minute without work
 *   (its ~7 MB, and a decoder's heap, go back to the system) and starts again in ~30 ms.
 * - Every kind of work waits in a bounded line of its own (a lane): a full lane answers 429 BUSY
 *   with Retry-After at once, and a flood of images never fills the line that logins wait in.
 *   Waiting hashes get the next free worker before waiting images (priority-queue.ts).
 */
import os from 'node:os';
import { Piscina } from 'piscina';
import type * as CpuTasks from '../cpu-worker.js';
import { errors } from '../errors.js';
import { createPriorityQueue, type Priority, queueOptions } from './priority-queue.js';

/** The tasks a worker runs, by name: the exports of the worker's entry. */
type Tasks = typeof CpuTasks;
export type TaskName = keyof Tasks;
export type TaskInput<N extends TaskName> = Parameters<Tasks[N]>[0];
export type TaskOutput<N extends TaskName> = Awaited<ReturnType<Tasks[N]>>;

/** The lowest priority (see above). */
export const WORKER_NICE = 19;
const IDLE_TIMEOUT_MS = 60_000;
/** A backstop behind the lanes' own bounds; no lane comes near it. */
const MAX_QUEUE = 1024;

// scripts/bundle.mjs names the bundled worker entry (dist/server/cpu-worker.mjs, beside main.mjs,
// which holds this module: the build checks it). Undefined when running from src/ or dist/src/.
declare const __CPU_WORKER_FILE__: string | undefined;

const fromTypeScript = import.meta.url.endsWith('.ts');

/** The worker's entry: bundled, or beside this folder as .ts (tsx: tests, dev) or .js (tsc: the CLIs). */
function workerFile(): string {
  if (typeof __CPU_WORKER_FILE__ === 'string') return new URL(__CPU_WORKER_FILE__, import.meta.url).href;
  return new URL(`../cpu-worker${fromTypeScript ? '.ts' : '.js'}`, import.meta.url).href;
}

/**
 * Run from src/ under tsx, a worker inherits `--import tsx` but, on Node 20, not the TypeScript
 * hooks it installs for ES modules (tsx installs those on the main thread only there): the worker
 * installs them itself before loading its entry. Nothing to add for the built files.
 */
function workerExecArgv(): string[] | undefined {
  if (!fromTypeScript) return undefined;
  const api = import.meta.resolve('tsx/esm/api');
  return [...process.execArgv, '--import', `data:text/javascript,import{register}from${JSON.stringify(api)};register();`];
}

export interface LaneOptions {
  priority: Priority;
  /** Tasks of this lane running or waiting at once; one more is refused with BUSY. */
  maxPending: number;
  /** Said in Retry-After when refused: about how long the lane takes to make room. */
  retryAfterSeconds: number;
}

export interface Lane {
  /**
   * Runs the named task on a worker. Rejects with BUSY (429) when the lane is full; with an
   * AbortError when `signal` aborts (a running task's worker is then ended); with the task's error.
   */
  run<N extends TaskName>(name: N, input: TaskInput<N>, options?: { signal?: AbortSignal }): Promise<TaskOutput<N>>;
  readonly pending: number;
}

export interface CpuPool {
  lane(options: LaneOptions): Lane;
  /** Most workers at once. */
  readonly maxThreads: number;
  /** Workers alive now. */
  readonly threads: number;
  close(): Promise<void>;
}

export interface CpuPoolOptions {
  maxThreads?: number;
  idleTimeoutMs?: number;
}

/** piscina's own queue bound says so only in its message. */
const isQueueFull = (error: unknown) => error instanceof Error && /queue is at limit|No task queue available/i.test(error.message);

export function createCpuPool(options: CpuPoolOptions = {}): CpuPool {
  const maxThreads = options.maxThreads ?? Math.max(1, os.availableParallelism());
  const piscina = new Piscina({
    filename: workerFile(),
    execArgv: workerExecArgv(),
    minThreads: 0,
    maxThreads,
    idleTimeout: options.idleTimeoutMs ?? IDLE_TIMEOUT_MS,
    niceIncrement: WORKER_NICE,
    maxQueue: MAX_QUEUE,
    taskQueue: createPriorityQueue(),
    // A task that found no free worker goes back to the front of its lane, not to the back.
    stricterFIFO: true,
    // Each task's run time is not needed: no histogram to keep.
    recordTiming: false,
  });

  return {
    lane({ priority, maxPending, retryAfterSeconds }) {
      let pending = 0;
      return {
        async run(name, input, runOptions = {}) {
          if (pending >= maxPending) throw errors.busy(retryAfterSeconds);
          pending += 1;
          try {
            // The queue reads the priority under a symbol, which is not copied to the worker.
            const task = { ...(input as object), ...queueOptions(priority) };
            return await piscina.run(task, { name, signal: runOptions.signal ?? null });
          } catch (error) {
            if (isQueueFull(error)) throw errors.busy(retryAfterSeconds);
            throw error;
          } finally {
            pending -= 1;
          }
        },
        get pending() {
          return pending;
        },
      };
    },
    maxThreads,
    get threads() {
      return piscina.threads.length;
    },
    close: () => piscina.destroy(),
  };
}

let shared: CpuPool | undefined;

/** The process's pool, shared by every kind of work: one worker per core at most. */
export function cpuPool(): CpuPool {
  shared ??= createCpuPool();
  return shared;
}
