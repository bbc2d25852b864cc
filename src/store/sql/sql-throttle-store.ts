/**
 * Counters of failed attempts (see ThrottleStore in store.ts) over Kysely, for SQLite and
 * PostgreSQL alike. The claim is ONE statement, an upsert whose update only happens while the key
 * is not locked: "may this attempt run?" and "count it" cannot be separated by a concurrent
 * request, whichever database or instance it reaches. Times are epoch milliseconds (bigint), so
 * the lock arithmetic is the same SQL in both dialects.
 */
import { type Kysely, sql } from 'kysely';
import type { ThrottleStore } from '../store.js';
import type { Runner } from './sql-store.js';
import type { Tables } from './tables.js';

export function createSqlThrottleStore(db: Kysely<Tables>, run: Runner): ThrottleStore {
  return {
    claim(key, subject, policy, now) {
      return run(async () => {
        const nowMs = now.getTime();
        const { threshold, maxLockSeconds } = policy;
        const bigint = (value: number) => sql<number>`cast(${value} as bigint)`;
        const failures = sql<number>`login_throttles.failures + 1`;
        // 1 s the first time, then twice the last lock, capped.
        const nextLock = sql<number>`case when login_throttles.lock_seconds = 0 then 1
          when login_throttles.lock_seconds * 2 > ${maxLockSeconds} then ${maxLockSeconds}
          else login_throttles.lock_seconds * 2 end`;
        const locks = sql<boolean>`${failures} >= ${threshold}`;
        const firstLocks = threshold <= 1;
        const row = await db
          .insertInto('login_throttles')
          .values({
            key,
            subject,
            failures: 1,
            lock_seconds: firstLocks ? 1 : 0,
            locked_until_ms: bigint(firstLocks ? nowMs + 1000 : 0),
            updated_at_ms: bigint(nowMs),
          })
          .onConflict((oc) =>
            oc
              .column('key')
              .doUpdateSet({
                subject,
                failures,
                lock_seconds: sql<number>`case when ${locks} then ${nextLock} else 0 end`,
                locked_until_ms: sql<number>`case when ${locks} then ${bigint(nowMs)} + 1000 * (${nextLock}) else 0 end`,
                updated_at_ms: bigint(nowMs),
              })
              .where('login_throttles.locked_until_ms', '<=', bigint(nowMs)),
          )
          .returning(['failures'])
          .executeTakeFirst();
        if (row !== undefined) return { allowed: true as const, failures: Number(row.failures) };
        const locked = await db
          .selectFrom('login_throttles')
          .select('locked_until_ms')
          .where('key', '=', key)
          .executeTakeFirst();
        const left = Number(locked?.locked_until_ms ?? 0) - nowMs;
        return { allowed: false as const, retryAfterSeconds: Math.max(1, Math.ceil(left / 1000)) };
      });
    },

    refund(key, policy) {
      return run(async () => {
        const below = sql<boolean>`failures - 1 < ${policy.threshold}`;
        await db
          .updateTable('login_throttles')
          .set({
            failures: sql<number>`failures - 1`,
            lock_seconds: sql<number>`case when ${below} then 0 else lock_seconds / 2 end`,
            locked_until_ms: sql<number>`0`,
          })
          .where('key', '=', key)
          .where('failures', '>', 0)
          .execute();
      });
    },

    clear(keys) {
      if (keys.length === 0) return Promise.resolve();
      return run(async () => {
        await db.deleteFrom('login_throttles').where('key', 'in', keys).execute();
      });
    },

    clearSubject(subject) {
      return run(async () => {
        await db.deleteFrom('login_throttles').where('subject', '=', subject).execute();
      });
    },
  };
}
