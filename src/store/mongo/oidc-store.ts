/**
 * The OpenID Connect provider's records (OidcStore in store.ts) over MongoDB: collection
 * `oidc_models`, one document a (model, id), `_id` being "model:id". Expired documents are
 * filtered out on read (and purged by the periodic purge); consuming a code is one conditional
 * update, so only one of two concurrent redemptions succeeds.
 */
import type { Collection, Filter } from 'mongodb';
import type { OidcRecord, OidcStore } from '../store.js';
import type { MongoRunner } from './auth-stores.js';

export interface OidcDocument {
  _id: string;
  model: string;
  id: string;
  payload: string;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  expires_at: Date | null;
  consumed_at: Date | null;
}

const keyOf = (model: string, id: string) => `${model}:${id}`;

function docToRecord(doc: OidcDocument): OidcRecord {
  return {
    model: doc.model,
    id: doc.id,
    payload: doc.payload,
    grantId: doc.grant_id,
    userCode: doc.user_code,
    uid: doc.uid,
    expiresAt: doc.expires_at,
    consumedAt: doc.consumed_at,
  };
}

/** Idempotent, at start-up: the provider's lookups besides the key, and the purge's walk. */
export async function migrateOidc(models: Collection<OidcDocument>): Promise<void> {
  await models.createIndexes([
    { key: { grant_id: 1 }, name: 'grant_id_1', sparse: true },
    { key: { model: 1, uid: 1 }, name: 'model_1_uid_1', sparse: true },
    { key: { model: 1, user_code: 1 }, name: 'model_1_user_code_1', sparse: true },
    { key: { expires_at: 1 }, name: 'expires_at_1' },
  ]);
}

export function createMongoOidcStore(models: Collection<OidcDocument>, run: MongoRunner): OidcStore {
  const live = (now: Date): Filter<OidcDocument> => ({ $or: [{ expires_at: null }, { expires_at: { $gt: now } }] });
  const findOne = (filter: Filter<OidcDocument>) =>
    run(async () => {
      const doc = await models.findOne(filter);
      return doc === null ? null : docToRecord(doc);
    });
  return {
    upsert(record) {
      return run(async () => {
        const doc: OidcDocument = {
          _id: keyOf(record.model, record.id),
          model: record.model,
          id: record.id,
          payload: record.payload,
          grant_id: record.grantId,
          user_code: record.userCode,
          uid: record.uid,
          expires_at: record.expiresAt,
          consumed_at: null,
        };
        await models.replaceOne({ _id: doc._id }, doc, { upsert: true });
      });
    },
    find: (model, id, now) => findOne({ _id: keyOf(model, id), ...live(now) }),
    findByUid: (model, uid, now) => findOne({ model, uid, ...live(now) }),
    findByUserCode: (model, userCode, now) => findOne({ model, user_code: userCode, ...live(now) }),
    consume(model, id, now) {
      return run(async () => {
        const result = await models.updateOne({ _id: keyOf(model, id), consumed_at: null }, { $set: { consumed_at: now } });
        return result.modifiedCount > 0;
      });
    },
    destroy(model, id) {
      return run(async () => {
        await models.deleteOne({ _id: keyOf(model, id) });
      });
    },
    revokeByGrantId(grantId) {
      return run(async () => (await models.deleteMany({ grant_id: grantId })).deletedCount);
    },
    list(model, now, limit) {
      return run(async () => (await models.find({ model, ...live(now) }).sort({ id: 1 }).limit(limit).toArray()).map(docToRecord));
    },
    purgeExpired(cutoff, limit) {
      return run(async () => {
        const ids = (await models.find({ expires_at: { $ne: null, $lt: cutoff } }, { projection: { _id: 1 }, limit }).toArray()).map((d) => d._id);
        if (ids.length === 0) return 0;
        return (await models.deleteMany({ _id: { $in: ids } })).deletedCount;
      });
    },
  };
}
