/**
 * Passkeys (WebAuthn credentials) over MongoDB: a `passkeys` collection keyed by the credential id
 * (unique by construction), indexed by user. recordUse is one conditional update (compare-and-set
 * on the counter). Without multi-document transactions, delete with keepOne is a compensation
 * like the last-admin guard: delete, count what is left, and put the passkey back when none is.
 */
import type { Collection, Db } from 'mongodb';
import type { Passkey, PasskeyStore } from '../passkey-store.js';
import { fromKey, type IdKey, toKey } from './auth-documents.js';
import type { MongoRunner } from './auth-stores.js';

export interface PasskeyDocument {
  _id: string;
  user_id: IdKey;
  public_key: string;
  counter: number;
  transports: string[];
  device_type: string;
  backed_up: boolean;
  backup_eligible: boolean;
  aaguid: string;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
}

export const passkeyCollection = (db: Db) => db.collection<PasskeyDocument>('passkeys');

export async function migratePasskeys(passkeys: Collection<PasskeyDocument>): Promise<void> {
  await passkeys.createIndex({ user_id: 1, created_at: 1 }, { name: 'user_id_1_created_at_1' });
}

function toDoc(p: Passkey): PasskeyDocument {
  return {
    _id: p.id,
    user_id: toKey(p.userId),
    public_key: p.publicKey,
    counter: p.counter,
    transports: p.transports,
    device_type: p.deviceType,
    backed_up: p.backedUp,
    backup_eligible: p.backupEligible,
    aaguid: p.aaguid,
    name: p.name,
    created_at: p.createdAt,
    last_used_at: p.lastUsedAt,
  };
}

function fromDoc(d: PasskeyDocument): Passkey {
  return {
    id: d._id,
    userId: fromKey(d.user_id),
    publicKey: d.public_key,
    counter: Number(d.counter),
    transports: d.transports ?? [],
    deviceType: d.device_type === 'multiDevice' ? 'multiDevice' : 'singleDevice',
    backedUp: d.backed_up === true,
    backupEligible: d.backup_eligible === true,
    aaguid: d.aaguid,
    name: d.name,
    createdAt: d.created_at,
    lastUsedAt: d.last_used_at ?? null,
  };
}

export function createMongoPasskeyStore(passkeys: Collection<PasskeyDocument>, run: MongoRunner): PasskeyStore {
  return {
    insert(passkey) {
      return run(async () => {
        await passkeys.insertOne(toDoc(passkey));
      });
    },

    findById(id) {
      return run(async () => {
        const doc = await passkeys.findOne({ _id: id });
        return doc === null ? null : fromDoc(doc);
      });
    },

    listForUser(userId) {
      return run(async () => (await passkeys.find({ user_id: toKey(userId) }).sort({ created_at: 1, _id: 1 }).toArray()).map(fromDoc));
    },

    recordUse(id, use, expectedCounter) {
      return run(async () => {
        const result = await passkeys.updateOne(
          { _id: id, counter: expectedCounter },
          { $set: { counter: use.counter, backed_up: use.backedUp, last_used_at: use.at } },
        );
        return result.matchedCount > 0;
      });
    },

    rename(userId, id, name) {
      return run(async () => (await passkeys.updateOne({ _id: id, user_id: toKey(userId) }, { $set: { name } })).matchedCount > 0);
    },

    delete(userId, id, options = {}) {
      return run(async () => {
        const user_id = toKey(userId);
        const gone = await passkeys.findOneAndDelete({ _id: id, user_id });
        if (gone === null) return 'not_found' as const;
        if (options.keepOne && (await passkeys.countDocuments({ user_id })) === 0) {
          await passkeys.insertOne(gone);
          return 'last' as const;
        }
        return 'deleted' as const;
      });
    },
  };
}

/** What ON DELETE CASCADE does in SQL, by hand (called after the user is gone). */
export async function deletePasskeysOfUser(passkeys: Collection<PasskeyDocument>, userId: string): Promise<void> {
  await passkeys.deleteMany({ user_id: toKey(userId) });
}
