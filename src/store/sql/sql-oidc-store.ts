/**
 * The OpenID Connect provider's records (OidcStore in store.ts) over Kysely, for SQLite and
 * PostgreSQL alike: one table `oidc_models` keyed by (model, id) (migration 0008_oidc). An upsert
 * is one statement, and consuming a code is one conditional update, so two instances redeeming
 * the same code cannot both succeed.
 */
import type { Kysely, Selectable } from 'kysely';
import type { OidcRecord, OidcStore } from '../store.js';
import { toDateOrNull } from './dates.js';
import type { Runner } from './sql-store.js';
import type { OidcModelsTable, Tables } from './tables.js';

type EncodeDate = (date: Date) => string | Date;

function rowToRecord(row: Selectable<OidcModelsTable>): OidcRecord {
  return {
    model: row.model,
    id: row.id,
    payload: row.payload,
    grantId: row.grant_id,
    userCode: row.user_code,
    uid: row.uid,
    expiresAt: toDateOrNull(row.expires_at),
    consumedAt: toDateOrNull(row.consumed_at),
  };
}

export function createSqlOidcStore(db: Kysely<Tables>, run: Runner, encodeDate: EncodeDate): OidcStore {
  const live = (now: Date) => {
    const at = encodeDate(now);
    return db
      .selectFrom('oidc_models')
      .selectAll()
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', at)]));
  };
  return {
    upsert(record) {
      return run(async () => {
        const values = {
          payload: record.payload,
          grant_id: record.grantId,
          user_code: record.userCode,
          uid: record.uid,
          expires_at: record.expiresAt === null ? null : encodeDate(record.expiresAt),
          consumed_at: null,
        };
        await db
          .insertInto('oidc_models')
          .values({ model: record.model, id: record.id, ...values })
          .onConflict((oc) => oc.columns(['model', 'id']).doUpdateSet(values))
          .execute();
      });
    },
    find(model, id, now) {
      return run(async () => {
        const row = await live(now).where('model', '=', model).where('id', '=', id).executeTakeFirst();
        return row === undefined ? null : rowToRecord(row);
      });
    },
    findByUid(model, uid, now) {
      return run(async () => {
        const row = await live(now).where('model', '=', model).where('uid', '=', uid).executeTakeFirst();
        return row === undefined ? null : rowToRecord(row);
      });
    },
    findByUserCode(model, userCode, now) {
      return run(async () => {
        const row = await live(now).where('model', '=', model).where('user_code', '=', userCode).executeTakeFirst();
        return row === undefined ? null : rowToRecord(row);
      });
    },
    consume(model, id, now) {
      return run(async () => {
        const result = await db
          .updateTable('oidc_models')
          .set({ consumed_at: encodeDate(now) })
          .where('model', '=', model)
          .where('id', '=', id)
          .where('consumed_at', 'is', null)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      });
    },
    destroy(model, id) {
      return run(async () => {
        await db.deleteFrom('oidc_models').where('model', '=', model).where('id', '=', id).execute();
      });
    },
    revokeByGrantId(grantId) {
      return run(async () => {
        const result = await db.deleteFrom('oidc_models').where('grant_id', '=', grantId).executeTakeFirst();
        return Number(result.numDeletedRows);
      });
    },
    list(model, now, limit) {
      return run(async () => {
        const rows = await live(now).where('model', '=', model).orderBy('id').limit(limit).execute();
        return rows.map(rowToRecord);
      });
    },
    purgeExpired(cutoff, limit) {
      return run(async () => {
        const at = encodeDate(cutoff);
        // (model, id) is a composite key: the batch is chosen by a subquery on both.
        const batch = await db.selectFrom('oidc_models').select(['model', 'id']).where('expires_at', '<', at).limit(limit).execute();
        if (batch.length === 0) return 0;
        const result = await db
          .deleteFrom('oidc_models')
          .where((eb) => eb.or(batch.map((r) => eb.and([eb('model', '=', r.model), eb('id', '=', r.id)]))))
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      });
    },
  };
}
