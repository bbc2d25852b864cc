/**
 * The feed of changes to the `users` table, for the user cache (sql/user-cache.ts): one
 * connection of its own (LISTEN needs a session that stays open; a pooled one is handed to other
 * queries), which hears the notice a trigger sends for every updated or deleted row (migration
 * 0009), on whichever instance or tool made the change.
 *
 * The feed counts as live only once it has heard its own self-test notice, sent through the pool
 * like any query: that proves the notices of other sessions reach this one (a transaction-mode
 * PgBouncer, for one, accepts LISTEN and never delivers anything). The self-test repeats every
 * `selfTestEveryMs`; a notice not back within `selfTestTimeoutMs`, a lost connection or an error
 * makes the feed not live (the cache keeps nothing, every read goes to the database) and it
 * reconnects, waiting 1 s, then twice as long each time, up to 30 s.
 *
 * The self-test notices also tell each instance which others are live (their peers). A change
 * that must stop a token everywhere at once (a disabling, a role change, a revocation) is not
 * answered until every live peer has said it forgot the row (`confirm`): the writer sends
 * `want:<writer>:<id>`, each peer forgets the row and answers `ack:<peer>:<id>:<writer>`.
 * PostgreSQL delivers notices on its own schedule, so without this a request reaching another
 * instance just after the change was answered could still find the old row there (measured:
 * 2 in 60 on a saturated machine). A peer that does not answer within `confirmTimeoutMs` (gone,
 * or frozen) does not hold the write longer.
 */
import { randomUUID } from 'node:crypto';
import type { Client, Notification } from 'pg';

export const USER_CHANGES_CHANNEL = 'authqr_user_changes';
const USER_ID_RE = /^[0-9a-f]{24}$/;
const UUID_RE = /^[0-9a-f-]{36}$/;

export interface UserChangeFeedOptions {
  /** A new client, not from the pool, not yet connected. */
  newClient(): Client;
  /** Sends a notice on the channel through the pool. */
  notify(channel: string, payload: string): Promise<void>;
  /** A user's row changed or went: forget it. */
  onChange(id: string): void;
  /** The feed became live, or stopped being live. */
  onLive(live: boolean): void;
  /** Told why the feed went down (for the log). */
  onDown?(reason: string): void;
  selfTestEveryMs?: number;
  selfTestTimeoutMs?: number;
  confirmTimeoutMs?: number;
  now?: () => number;
}

export interface UserChangeFeed {
  readonly live: boolean;
  /** The other instances heard from lately (their self-tests). */
  readonly peers: number;
  /**
   * Resolves once every live peer forgot `id`'s row (call it after the change committed); at once
   * when this feed is not live or has no peers; after `confirmTimeoutMs` at most.
   */
  confirm(id: string): Promise<void>;
  close(): Promise<void>;
}

export function startUserChangeFeed(options: UserChangeFeedOptions): UserChangeFeed {
  const selfTestEveryMs = options.selfTestEveryMs ?? 15_000;
  const selfTestTimeoutMs = options.selfTestTimeoutMs ?? 5_000;
  const confirmTimeoutMs = options.confirmTimeoutMs ?? 250;
  const now = options.now ?? Date.now;
  const me = randomUUID();
  let client: Client | null = null;
  let live = false;
  let closed = false;
  let backoffMs = 1_000;
  let expected: string | null = null;
  let timer: NodeJS.Timeout | null = null;
  let sent = 0;
  /** Peers by id, with when their last self-test was heard; live while heard within 2.5 periods. */
  const peers = new Map<string, number>();
  /** Confirmations under way, by user id: the peers still to answer. */
  const confirming = new Map<string, Set<{ missing: Set<string>; done: () => void }>>();

  const livePeers = () => {
    const since = now() - selfTestEveryMs * 2.5;
    for (const [peer, at] of peers) if (at < since) peers.delete(peer);
    return [...peers.keys()];
  };

  const releaseAll = () => {
    for (const waits of confirming.values()) for (const wait of waits) wait.done();
  };

  const schedule = (ms: number, run: () => void) => {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(run, ms);
    timer.unref();
  };

  const setLive = (value: boolean) => {
    if (live === value) return;
    live = value;
    options.onLive(value);
    if (!value) releaseAll();
  };

  const down = (reason: string) => {
    if (closed) return;
    const wasUp = client !== null;
    setLive(false);
    expected = null;
    const old = client;
    client = null;
    old?.removeAllListeners('notification');
    old?.end().catch(() => undefined);
    if (wasUp) options.onDown?.(reason);
    schedule(backoffMs, () => void connect());
    backoffMs = Math.min(backoffMs * 2, 30_000);
  };

  const send = (payload: string) => options.notify(USER_CHANGES_CHANNEL, payload);

  const selfTest = () => {
    if (closed || client === null) return;
    expected = `selftest:${me}:${++sent}`;
    send(expected).catch((error: unknown) => down(`self-test notice not sent: ${String(error)}`));
    schedule(selfTestTimeoutMs, () => down('self-test notice not received in time'));
  };

  const onNotification = (message: Notification) => {
    if (message.channel !== USER_CHANGES_CHANNEL || message.payload === undefined) return;
    const payload = message.payload;
    if (USER_ID_RE.test(payload)) {
      options.onChange(payload);
      return;
    }
    const [kind, from = '', id = '', to = ''] = payload.split(':');
    if (kind === 'selftest') {
      if (payload === expected) {
        expected = null;
        backoffMs = 1_000;
        setLive(true);
        schedule(selfTestEveryMs, selfTest);
      } else if (from !== me && UUID_RE.test(from)) {
        // A peer not known yet (it just started) learns of this one at once, not at its next self-test.
        if (!peers.has(from)) send(`here:${me}`).catch(() => undefined);
        peers.set(from, now());
      }
    } else if (kind === 'here' && from !== me && UUID_RE.test(from)) {
      peers.set(from, now());
    } else if (kind === 'want' && from !== me && USER_ID_RE.test(id)) {
      // Forget first, then say so: the writer answers only after this.
      options.onChange(id);
      peers.set(from, now());
      send(`ack:${me}:${id}:${from}`).catch(() => undefined);
    } else if (kind === 'ack' && to === me) {
      for (const wait of confirming.get(id) ?? []) {
        wait.missing.delete(from);
        if (wait.missing.size === 0) wait.done();
      }
    }
  };

  async function connect(): Promise<void> {
    if (closed) return;
    const next = options.newClient();
    // Errors after connecting arrive as events; unhandled they would end the process.
    next.on('error', (error) => {
      if (client === next) down(`connection error: ${error.message}`);
    });
    next.on('end', () => {
      if (client === next) down('connection ended');
    });
    next.on('notification', onNotification);
    try {
      await next.connect();
      await next.query(`listen ${USER_CHANGES_CHANNEL}`);
    } catch (error) {
      next.end().catch(() => undefined);
      if (!closed) {
        schedule(backoffMs, () => void connect());
        backoffMs = Math.min(backoffMs * 2, 30_000);
        options.onDown?.(`cannot listen: ${error instanceof Error ? error.message : String(error)}`);
      }
      return;
    }
    if (closed) {
      await next.end().catch(() => undefined);
      return;
    }
    client = next;
    selfTest();
  }

  void connect();

  return {
    get live() {
      return live;
    },
    get peers() {
      return livePeers().length;
    },
    confirm(id) {
      const missing = new Set(live ? livePeers() : []);
      if (missing.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        let waits = confirming.get(id);
        if (waits === undefined) confirming.set(id, (waits = new Set()));
        const wait = {
          missing,
          done: () => {
            clearTimeout(timeout);
            waits.delete(wait);
            if (waits.size === 0 && confirming.get(id) === waits) confirming.delete(id);
            resolve();
          },
        };
        const timeout = setTimeout(wait.done, confirmTimeoutMs);
        waits.add(wait);
        send(`want:${me}:${id}`).catch(() => wait.done());
      });
    },
    async close() {
      closed = true;
      if (timer !== null) clearTimeout(timer);
      setLive(false);
      releaseAll();
      const old = client;
      client = null;
      await old?.end().catch(() => undefined);
    },
  };
}
