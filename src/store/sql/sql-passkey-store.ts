/**
 * Passkeys (WebAuthn credentials) over Kysely, for SQLite and PostgreSQL alike. The two writes a
 * rule depends on are single statements or one transaction: recordUse is a compare-and-set on the
 * counter, and delete with keepOne counts and deletes in one transaction that locks the user's row
 * on PostgreSQL (SQLite runs one write transaction at a time anyway).
 */
import { type Kysely, type Selectable, sql } from 'kysely';
import type { Passkey, PasskeyStore } from '../passkey-store.js';
import { toDate, toDateOrNull } from './dates.js';
import type { SqlDialect } from './migrations.js';
import type { Runner } from './sql-store.js';
import type { PasskeysTable, Tables } from './tables.js';

function parseTransports(json: string): string[] {
  try {
    const value: unknown = JSON.parse(json);
    return Array.isArray(value) ? value.filter((t): t is string => typeof t === 'string') : [];
  } catch {
    return [];
  }
}

function rowToPasskey(row: Selectable<PasskeysTable>): Passkey {
  return {
    id: row.id,
    userId: row.user_id,
    publicKey: row.public_key,
    // bigint: PostgreSQL sends it as a string.
    counter: Number(row.counter),
    transports: parseTransports(row.transports),
    deviceType: row.device_type === 'multiDevice' ? 'multiDevice' : 'singleDevice',
    backedUp: Boolean(row.backed_up),
    backupEligible: Boolean(row.backup_eligible),
    aaguid: row.aaguid,
    name: row.name,
    createdAt: toDate(row.created_at),
    lastUsedAt: toDateOrNull(row.last_used_at),
  };
}

export function createSqlPasskeyStore(
  db: Kysely<Tables>,
  run: Runner,
  codec: { dialect: SqlDialect; encodeDate(date: Date): string | Date; encodeBool(value: boolean): number | boolean },
): PasskeyStore {
  const { dialect, encodeDate, encodeBool } = codec;
  return {
    insert(passkey) {
      return run(async () => {
        await db
          .insertInto('passkeys')
          .values({
            id: passkey.id,
            user_id: passkey.userId,
            public_key: passkey.publicKey,
            counter: passkey.counter,
            transports: JSON.stringify(passkey.transports),
            device_type: passkey.deviceType,
            backed_up: encodeBool(passkey.backedUp),
            backup_eligible: encodeBool(passkey.backupEligible),
            aaguid: passkey.aaguid,
            name: passkey.name,
            created_at: encodeDate(passkey.createdAt),
            last_used_at: passkey.lastUsedAt && encodeDate(passkey.lastUsedAt),
          })
          .execute();
      });
    },

    findById(id) {
      return run(async () => {
        const row = await db.selectFrom('passkeys').selectAll().where('id', '=', id).executeTakeFirst();
        return row === undefined ? null : rowToPasskey(row);
      });
    },

    listForUser(userId) {
      return run(async () => {
        const rows = await db
          .selectFrom('passkeys')
          .selectAll()
          .where('user_id', '=', userId)
          .orderBy('created_at')
          .orderBy('id')
          .execute();
        return rows.map(rowToPasskey);
      });
    },

    recordUse(id, use, expectedCounter) {
      return run(async () => {
        const result = await db
          .updateTable('passkeys')
          .set({ counter: use.counter, backed_up: encodeBool(use.backedUp), last_used_at: encodeDate(use.at) })
          .where('id', '=', id)
          .where('counter', '=', expectedCounter)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      });
    },

    rename(userId, id, name) {
      return run(async () => {
        const result = await db
          .updateTable('passkeys')
          .set({ name })
          .where('id', '=', id)
          .where('user_id', '=', userId)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      });
    },

    delete(userId, id, options = {}) {
      return run(() =>
        db.transaction().execute(async (trx) => {
          if (options.keepOne) {
            // Concurrent deletions of one user's passkeys wait here for each other on PostgreSQL.
            if (dialect === 'postgres') await sql`select id from users where id = ${userId} for update`.execute(trx);
            const count = await trx
              .selectFrom('passkeys')
              .select((eb) => eb.fn.countAll<number | string>().as('n'))
              .where('user_id', '=', userId)
              .executeTakeFirstOrThrow();
            const mine = await trx.selectFrom('passkeys').select('id').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
            if (mine === undefined) return 'not_found' as const;
            if (Number(count.n) <= 1) return 'last' as const;
          }
          const result = await trx.deleteFrom('passkeys').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
          return Number(result.numDeletedRows) > 0 ? ('deleted' as const) : ('not_found' as const);
        }),
      );
    },
  };
}
