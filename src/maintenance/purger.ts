/**
 * The periodic purge: what the service keeps only for a while goes, in small batches, so no
 * backlog ever turns into one long transaction or a stalled event loop:
 * - expired single-use tokens (reset and verification links, login challenges, QR sign-ins);
 * - sessions ended (revoked or expired) more than a day ago, with their refresh tokens;
 * - refresh tokens used more than a week ago (reuse detection needs them only that long);
 * - attempt counters untouched for a day (their locks last 15 minutes at most);
 * - audit events older than AUDIT_RETENTION_DAYS (365 by default; 0 keeps them for ever);
 * - the OpenID Connect provider's expired records (codes, tokens, sessions, interactions: oidc/).
 *
 * Every instance runs it (a little jitter keeps them apart): the deletes are idempotent, so two
 * instances at once only share the work. Each round has a time budget; what is left waits for
 * the next round.
 */
import type { PurgeKind, Store } from '../store/store.js';

const DAY_MS = 24 * 3600_000;

export interface PurgePolicy {
  /** Audit events older than this many days go; 0 keeps them for ever. */
  auditRetentionDays: number;
}

/** What a round purges: the Store's purge kinds and the OpenID Connect records (OidcStore.purgeExpired). */
type RoundKind = PurgeKind | 'oidc_models';

export interface PurgeRound {
  deleted: Record<RoundKind, number>;
  /** Some kind still had rows past keeping when the round's budget ran out. */
  more: boolean;
  /** The longest single batch, in milliseconds (what a concurrent request could wait behind). */
  longestBatchMs: number;
}

export interface Purger {
  /** One round: batches of each kind until done or `budgetMs` is spent. */
  runOnce(budgetMs?: number): Promise<PurgeRound>;
  /** Rounds every `intervalMs` (with up to 10 % jitter), the first one soon after start; returns a stop. */
  start(intervalMs: number): () => void;
}

export interface PurgerDeps {
  /** `oidc` absent: the OpenID Connect records are left alone (a purger over part of a store, in tests). */
  store: Pick<Store, 'purge' | 'kind'> & Partial<Pick<Store, 'oidc'>>;
  policy: PurgePolicy;
  log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
  batchSize?: number;
  now?: () => number;
}

const yieldToRequests = () => new Promise<void>((resolve) => setImmediate(resolve));

export function createPurger(deps: PurgerDeps): Purger {
  const { store, policy, log } = deps;
  // SQLite runs each statement on the event loop (better-sqlite3 is synchronous): its batches are
  // small enough to take a few milliseconds (bench/purge.ts); the servers' run beside the loop.
  const batchSize = deps.batchSize ?? (store.kind === 'sqlite' ? 100 : 1000);
  const now = deps.now ?? Date.now;

  function cutoffs(at: number): [RoundKind, Date][] {
    const kinds: [RoundKind, Date][] = [
      ['one_time_tokens', new Date(at)],
      ['sessions', new Date(at - DAY_MS)],
      ['used_refresh_tokens', new Date(at - 7 * DAY_MS)],
      ['throttles', new Date(at - DAY_MS)],
      ['oidc_models', new Date(at)],
    ];
    if (policy.auditRetentionDays > 0) kinds.push(['audit_events', new Date(at - policy.auditRetentionDays * DAY_MS)]);
    return kinds;
  }

  async function runOnce(budgetMs = 5_000): Promise<PurgeRound> {
    const started = now();
    const deleted = { one_time_tokens: 0, sessions: 0, used_refresh_tokens: 0, audit_events: 0, throttles: 0, oidc_models: 0 };
    let more = false;
    let longestBatchMs = 0;
    for (const [kind, cutoff] of cutoffs(started)) {
      for (;;) {
        const before = performance.now();
        const count =
          kind !== 'oidc_models'
            ? await store.purge.purge(kind, cutoff, batchSize)
            : store.oidc === undefined
              ? 0
              : await store.oidc.purgeExpired(cutoff, batchSize);
        longestBatchMs = Math.max(longestBatchMs, performance.now() - before);
        deleted[kind] += count;
        if (count < batchSize) break;
        if (now() - started > budgetMs) {
          more = true;
          break;
        }
        await yieldToRequests();
      }
    }
    return { deleted, more, longestBatchMs };
  }

  return {
    runOnce,
    start(intervalMs) {
      let timer: NodeJS.Timeout | undefined;
      let stopped = false;
      const schedule = (delay: number) => {
        timer = setTimeout(async () => {
          try {
            const round = await runOnce();
            const total = Object.values(round.deleted).reduce((a, b) => a + b, 0);
            if (total > 0) log.info({ purge: round.deleted, more: round.more }, `purge: ${total} rows past keeping removed`);
          } catch (error) {
            log.error({ err: error }, 'purge round failed; the next one tries again');
          }
          // A backlog is worked off in quick succession; otherwise wait for the next interval.
          if (!stopped) schedule(intervalMs * (0.9 + Math.random() * 0.1));
        }, delay);
        timer.unref();
      };
      schedule(Math.min(intervalMs, 60_000) * Math.random());
      return () => {
        stopped = true;
        if (timer !== undefined) clearTimeout(timer);
      };
    },
  };
}
