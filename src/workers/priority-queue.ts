/**
 * The pool's waiting line, in two lanes: a waiting password hash (someone at a login form) is
 * handed the next free worker before any waiting image decode, which can take a second or more and
 * whose sender already expects to wait. Within a lane, first come first served.
 */
import { Piscina, type TaskQueue } from 'piscina';

type Task = Parameters<TaskQueue['push']>[0];
/** What the queue reads of a task: the options it carries under Piscina.queueOptionsSymbol. */
type Queued = { [key: symbol]: { priority?: Priority } | null | undefined };

export type Priority = 'interactive' | 'bulk';

/** What a task carries for the queue (piscina reads it from the task under queueOptionsSymbol). */
export const queueOptions = (priority: Priority) => ({ [Piscina.queueOptionsSymbol]: { priority } });

export function createPriorityQueue(): TaskQueue {
  const interactive: Task[] = [];
  const bulk: Task[] = [];
  const laneOf = (task: Task) =>
    (task as unknown as Queued)[Piscina.queueOptionsSymbol]?.priority === 'interactive' ? interactive : bulk;

  return {
    get size() {
      return interactive.length + bulk.length;
    },
    push(task) {
      laneOf(task).push(task);
    },
    unshift(task) {
      laneOf(task).unshift(task);
    },
    shift() {
      return interactive.shift() ?? bulk.shift() ?? null;
    },
    remove(task) {
      const lane = laneOf(task);
      const index = lane.indexOf(task);
      if (index >= 0) lane.splice(index, 1);
    },
  };
}
