/**
 * Users' rows kept between requests on PostgreSQL, where every authenticated request reads its
 * user (so a disabled, deleted, demoted or logged-out user's token stops at once) and that read
 * was most of `/users/me`'s cost (a round trip, bench/: `me-pg`). A cached row is used only while
 * nothing can have changed it:
 * - every instance LISTENs for the `users` table's changes (a trigger NOTIFYs on each update and
 *   delete, migration 0009; postgres/user-changes.ts) and forgets the row named; PostgreSQL sends
 *   the notice when the change commits, before the writer's own request is answered;
 * - this instance's own writes to `users` empty the cache before and after they run, and at
 *   every commit (postgres/open-postgres.ts watches the statements), so a change is seen here
 *   at once, without waiting for its notice;
 * - while the feed of notices is not known to work (connecting, reconnecting, or a periodic
 *   self-test notice not received in time) nothing is cached and every read goes to the database.
 * A read that was in flight while anything was forgotten is not kept: it may have read the row
 * from before the change (the epoch counts forgettings). Entries also expire after `maxAgeMs`,
 * a last bound should a notice ever be lost. Misses are not cached; the cache is bounded.
 */
import type { UserRow } from './sql-store.js';

export interface UserCache {
  /** The row of `id`: from the cache while valid, else from `load` (kept when safe to keep). */
  get(id: string, load: () => Promise<UserRow | undefined>): Promise<UserRow | undefined>;
  /** Forgets one user's row (a notice named it). */
  forget(id: string): void;
  /** Forgets every row (a write of this instance; the feed went down or came up). */
  clear(): void;
  /** Whether rows may be kept: the feed of changes is live. */
  setLive(live: boolean): void;
  readonly size: number;
}

export interface UserCacheOptions {
  maxEntries?: number;
  maxAgeMs?: number;
  now?: () => number;
}

export function createUserCache(options: UserCacheOptions = {}): UserCache {
  const maxEntries = options.maxEntries ?? 10_000;
  const maxAgeMs = options.maxAgeMs ?? 60_000;
  const now = options.now ?? Date.now;
  const rows = new Map<string, { row: UserRow; at: number }>();
  let live = false;
  let epoch = 0;

  const clear = () => {
    epoch++;
    rows.clear();
  };

  return {
    async get(id, load) {
      if (live) {
        const hit = rows.get(id);
        if (hit !== undefined) {
          if (now() - hit.at < maxAgeMs) return hit.row;
          rows.delete(id);
        }
      }
      const started = epoch;
      const row = await load();
      if (row !== undefined && live && epoch === started) {
        if (rows.size >= maxEntries) rows.clear();
        rows.set(id, { row, at: now() });
      }
      return row;
    },
    forget(id) {
      epoch++;
      rows.delete(id);
    },
    clear,
    setLive(value) {
      live = value;
      clear();
    },
    get size() {
      return rows.size;
    },
  };
}
