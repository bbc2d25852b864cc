/**
 * The periodic purge's deletes over Kysely, for SQLite and PostgreSQL alike: each call removes at
 * most `limit` rows in one statement, `DELETE … WHERE key IN (SELECT key … LIMIT n)` (SQLite has
 * no DELETE … LIMIT by default), found through an index: a batch is short, whatever the backlog.
 */
import { type Kysely, sql } from 'kysely';
import type { PurgeStore } from '../store.js';
import { firstIdAt } from '../../users/ids.js';
import type { Runner } from './sql-store.js';
import type { Tables } from './tables.js';

type EncodeDate = (date: Date) => string | Date;

export function createSqlPurgeStore(db: Kysely<Tables>, run: Runner, encodeDate: EncodeDate): PurgeStore {
  return {
    purge(kind, cutoff, limit) {
      return run(async () => {
        const at = encodeDate(cutoff);
        let deleted: { numDeletedRows: bigint } | undefined;
        switch (kind) {
          case 'one_time_tokens':
            deleted = await db
              .deleteFrom('one_time_tokens')
              .where('hash', 'in', db.selectFrom('one_time_tokens').select('hash').where('expires_at', '<', at).limit(limit))
              .executeTakeFirst();
            break;
          case 'sessions':
            // Their refresh tokens go with them (ON DELETE CASCADE).
            deleted = await db
              .deleteFrom('sessions')
              .where(
                'id',
                'in',
                db
                  .selectFrom('sessions')
                  .select('id')
                  .where((eb) => eb.or([eb('expires_at', '<', at), eb('revoked_at', '<', at)]))
                  .limit(limit),
              )
              .executeTakeFirst();
            break;
          case 'used_refresh_tokens':
            deleted = await db
              .deleteFrom('refresh_tokens')
              .where('hash', 'in', db.selectFrom('refresh_tokens').select('hash').where('used_at', '<', at).limit(limit))
              .executeTakeFirst();
            break;
          case 'audit_events':
            // Ids order by time: the range below the cutoff's first id is a walk of the primary key.
            deleted = await db
              .deleteFrom('audit_events')
              .where('id', 'in', db.selectFrom('audit_events').select('id').where('id', '<', firstIdAt(cutoff)).orderBy('id').limit(limit))
              .executeTakeFirst();
            break;
          case 'throttles':
            deleted = await db
              .deleteFrom('login_throttles')
              .where(
                'key',
                'in',
                db
                  .selectFrom('login_throttles')
                  .select('key')
                  .where('updated_at_ms', '<', sql<number>`cast(${cutoff.getTime()} as bigint)`)
                  .limit(limit),
              )
              .executeTakeFirst();
            break;
        }
        return Number(deleted?.numDeletedRows ?? 0);
      });
    },
  };
}
