/**
 * Users' rows kept between requests on SQLite: every authenticated request reads its user (so a
 * disabled, deleted or logged-out user's token stops at once), and on SQLite that read was a
 * quarter of a small request's cost (bench/: `me`). A cached row is used only while nothing can
 * have changed it:
 * - any statement on this connection that may change a user's row (a write to `users`, a
 *   rollback, DDL, anything not known to leave `users` alone: `mayChangeUsers` in
 *   open-sqlite.ts) empties the cache before it runs (`invalidate`, called by the statement
 *   cache there, through which every Kysely query is prepared);
 * - a commit by any other connection (the admin CLI, a second server process on the same file)
 *   changes `PRAGMA data_version`, which is read at the first lookup of each event-loop turn and
 *   empties the cache when it moved. Such a commit is therefore seen from the next turn on
 *   (milliseconds): reading it before every lookup cost as much as reading the row (~5 µs in
 *   the server; the statement's read transaction is the cost, not the row).
 * Misses are not cached; the cache is bounded (emptied when full).
 */
import type Database from 'better-sqlite3';
import type { UserRow } from '../sql/sql-store.js';

export interface UserRowCache {
  /** The row of `id`, from the cache while valid, else from `load` (and kept). */
  get(id: string, load: () => UserRow | undefined): UserRow | undefined;
  /** This connection is about to write: forget everything. */
  invalidate(): void;
}

export function createUserRowCache(database: Database.Database, maxEntries = 10_000): UserRowCache {
  const rows = new Map<string, UserRow>();
  let dataVersion: Database.Statement<[], number> | undefined;
  let seen: number | undefined;
  let checkedThisTurn = false;
  const nextTurn = () => {
    checkedThisTurn = false;
  };
  return {
    get(id, load) {
      if (!checkedThisTurn) {
        dataVersion ??= database.prepare<[], number>('pragma data_version').pluck();
        const version = dataVersion.get();
        if (version !== seen) {
          rows.clear();
          seen = version;
        }
        checkedThisTurn = true;
        setImmediate(nextTurn);
      }
      const cached = rows.get(id);
      if (cached !== undefined) return cached;
      const row = load();
      if (row !== undefined) {
        if (rows.size >= maxEntries) rows.clear();
        rows.set(id, row);
      }
      return row;
    },
    invalidate() {
      rows.clear();
    },
  };
}
