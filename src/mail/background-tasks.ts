/**
 * Work that runs after the response: it must neither delay the answer (a reset request for a
 * real account must take as long as one for an unknown email) nor fail it (a mail server that is
 * down is logged, not a 500). Bounded, so a flood of requests cannot queue unlimited work, and
 * drained at shutdown so a reset mail that was promised is still sent.
 */
import type { FastifyBaseLogger } from 'fastify';

export interface BackgroundTasks {
  /** Starts `task` once the current response is on its way; false when it was dropped (too many pending). */
  run(name: string, task: () => Promise<void>): boolean;
  /** Resolves when every task started so far has settled. */
  drain(): Promise<void>;
}

export function createBackgroundTasks(log: Pick<FastifyBaseLogger, 'warn' | 'error'>, maxPending = 1000): BackgroundTasks {
  const pending = new Set<Promise<void>>();
  return {
    run(name, task) {
      if (pending.size >= maxPending) {
        log.warn({ task: name, pending: pending.size }, 'background task dropped: too many pending');
        return false;
      }
      // setImmediate, not a microtask: the reply is written before any of the work starts, even
      // the synchronous part of a SQLite query.
      const promise: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
        .then(task)
        .catch((error: unknown) => log.error({ err: error, task: name }, 'background task failed'))
        .finally(() => pending.delete(promise));
      pending.add(promise);
      return true;
    },
    async drain() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
}
