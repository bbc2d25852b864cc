/**
 * Live attendance events (a check-in, a mark, a session's end) from whichever instance handled
 * them to every teacher's live list. In one process an in-memory fan-out; with REDIS_URL, Redis
 * pub/sub, so a check-in handled by one instance reaches a live list streamed by another. Events
 * are a live view only: the list is read from the store on connect, so a lost event never loses a
 * check-in.
 */
import { EventEmitter } from 'node:events';
import type { FastifyBaseLogger } from 'fastify';

export interface LiveCheckin {
  user_id: string;
  username: string;
  full_name: string | null;
  email: string;
  status: string;
  method: string;
  flags: string[];
  at: string;
  note: string | null;
}

export type AttendanceEvent =
  | { type: 'checkin'; sessionId: string; checkin: LiveCheckin; publishedAt: number }
  | { type: 'ended'; sessionId: string; publishedAt: number };

export interface LiveBus {
  publish(event: AttendanceEvent): void;
  /** Calls `listener` with each event of the session; returns the unsubscribe. */
  subscribe(sessionId: string, listener: (event: AttendanceEvent) => void): () => void;
  close(): Promise<void>;
}

const CHANNEL = 'authqr:attendance';

function createLocalFanout() {
  const emitter = new EventEmitter();
  // One listener per open live list or projector: many is normal here.
  emitter.setMaxListeners(0);
  return {
    deliver: (event: AttendanceEvent) => emitter.emit(event.sessionId, event),
    subscribe(sessionId: string, listener: (event: AttendanceEvent) => void) {
      emitter.on(sessionId, listener);
      return () => {
        emitter.off(sessionId, listener);
      };
    },
  };
}

export function createMemoryBus(): LiveBus {
  const fanout = createLocalFanout();
  return { publish: fanout.deliver, subscribe: fanout.subscribe, close: async () => {} };
}

/**
 * Redis pub/sub: one connection publishes, one subscribes to the single channel; each instance
 * delivers what arrives to its own listeners (its own events included, as they come back from
 * Redis). While Redis is unreachable, events are delivered locally only, and logged once.
 */
export async function createRedisBus(url: string, log: Pick<FastifyBaseLogger, 'warn' | 'error'>): Promise<LiveBus> {
  const { Redis } = await import('ioredis');
  const options = { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: (attempt: number) => Math.min(attempt * 200, 5000) };
  const publisher = new Redis(url, { ...options, enableOfflineQueue: false });
  const subscriber = new Redis(url, options);
  const fanout = createLocalFanout();
  let warned = false;
  const warnOnce = (error: Error) => {
    if (warned) return;
    warned = true;
    log.error({ err: error }, 'Redis unreachable: live attendance events reach this instance only until it is back');
  };
  publisher.on('error', warnOnce);
  subscriber.on('error', warnOnce);
  subscriber.on('ready', () => {
    warned = false;
  });
  subscriber.on('message', (_channel: string, message: string) => {
    try {
      fanout.deliver(JSON.parse(message) as AttendanceEvent);
    } catch (error) {
      log.warn({ err: error }, 'unreadable attendance event from Redis');
    }
  });
  await Promise.all([publisher.connect(), subscriber.connect()]).catch(warnOnce);
  await subscriber.subscribe(CHANNEL).catch(warnOnce);
  return {
    publish(event) {
      if (publisher.status !== 'ready') {
        fanout.deliver(event);
        return;
      }
      publisher.publish(CHANNEL, JSON.stringify(event)).catch((error: Error) => {
        warnOnce(error);
        fanout.deliver(event);
      });
    },
    subscribe: fanout.subscribe,
    async close() {
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
}
