/**
 * Holding one worker task to a budget of CPU time. A decoder call cannot be interrupted from
 * inside, so the main thread keeps the clock: the task writes its thread's id and CPU time into a
 * small shared slot when it starts; the main thread reads that thread's CPU time from /proc every
 * POLL_MS and, once the budget is spent, aborts the task (piscina then ends the worker: its
 * memory goes with it, and the next task starts a fresh one).
 *
 * CPU time, not wall time: a niced worker on a busy machine may wait long for a core, and that
 * says nothing about the image. Where /proc is missing (not Linux) the budget is wall time from
 * the task's start. Either way a task stopped after WALL_FACTOR × its budget of wall time
 * frees its worker even when starved of CPU.
 */
import { readFileSync, readlinkSync } from 'node:fs';

const POLL_MS = 20;
const WALL_FACTOR = 10;
/** Linux's USER_HZ: /proc counts CPU time in ticks of 10 ms. */
const MS_PER_TICK = 10;

/** [thread id (0: not started; -1: started, no /proc), CPU ticks at start]. */
export type BudgetSlot = Int32Array;

export const createBudgetSlot = (): BudgetSlot => new Int32Array(new SharedArrayBuffer(8));

function ticksOf(statPath: string): number {
  // Fields after the command name (which may hold spaces, hence the last ')'): utime and stime
  // are the 14th and 15th of the line, the 12th and 13th after it.
  const stat = readFileSync(statPath, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** In the worker, as the task starts: where the main thread can read this thread's CPU time. */
export function startBudgetClock(slot: BudgetSlot): void {
  let tid = -1;
  let ticks = 0;
  try {
    // "<pid>/task/<tid>"
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    ticks = ticksOf('/proc/thread-self/stat');
  } catch {
    tid = -1;
  }
  Atomics.store(slot, 1, ticks);
  Atomics.store(slot, 0, Number.isInteger(tid) && tid > 0 ? tid : -1);
}

/**
 * On the main thread: calls `exceeded` once the task behind `slot` has used `cpuMs` of CPU time.
 * Returns the function that stops watching (call it when the task settles).
 */
export function watchBudget(slot: BudgetSlot, cpuMs: number, exceeded: () => void): () => void {
  let startedAt = 0;
  const timer = setInterval(() => {
    const tid = Atomics.load(slot, 0);
    if (tid === 0) return; // still waiting for a worker: the budget is for work, not for queueing
    const now = performance.now();
    if (startedAt === 0) startedAt = now;
    let used = now - startedAt;
    if (tid > 0) {
      try {
        used = (ticksOf(`/proc/self/task/${tid}/stat`) - Atomics.load(slot, 1)) * MS_PER_TICK;
      } catch {
        return; // the thread has just ended: its task settles now
      }
    }
    if (used >= cpuMs || now - startedAt >= cpuMs * WALL_FACTOR) {
      clearInterval(timer);
      exceeded();
    }
  }, POLL_MS);
  // A watch never keeps the process alive: the task it watches does.
  timer.unref();
  return () => clearInterval(timer);
}
