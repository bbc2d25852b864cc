/**
 * The periodic purge's deletes over MongoDB: at most `limit` documents a call, found through an
 * index and removed by their ids (deleteMany has no limit of its own), so a batch stays short.
 */
import type { Collection, Filter } from 'mongodb';
import { firstIdAt } from '../../users/ids.js';
import type { PurgeStore } from '../store.js';
import { type AuthCollections, type MongoRunner } from './auth-stores.js';
import { toKey } from './auth-documents.js';
import type { ThrottleDocument } from './throttle-store.js';

async function deleteSome<T extends { _id: unknown }>(collection: Collection<T>, filter: Filter<T>, limit: number): Promise<unknown[]> {
  const ids = (await collection.find(filter, { projection: { _id: 1 }, limit }).toArray()).map((d) => d._id);
  if (ids.length > 0) await collection.deleteMany({ _id: { $in: ids } } as Filter<T>);
  return ids;
}

export function createMongoPurgeStore(c: AuthCollections, throttles: Collection<ThrottleDocument>, run: MongoRunner): PurgeStore {
  return {
    purge(kind, cutoff, limit) {
      return run(async () => {
        switch (kind) {
          case 'one_time_tokens':
            return (await deleteSome(c.oneTimeTokens, { expires_at: { $ne: null, $lt: cutoff } }, limit)).length;
          case 'sessions': {
            const ids = await deleteSome(c.sessions, { $or: [{ expires_at: { $lt: cutoff } }, { revoked_at: { $ne: null, $lt: cutoff } }] }, limit);
            // No ON DELETE CASCADE here: the sessions' refresh tokens go by hand.
            if (ids.length > 0) await c.refreshTokens.deleteMany({ session_id: { $in: ids as never[] } });
            return ids.length;
          }
          case 'used_refresh_tokens':
            return (await deleteSome(c.refreshTokens, { used_at: { $ne: null, $lt: cutoff } }, limit)).length;
          case 'audit_events':
            return (await deleteSome(c.auditEvents, { _id: { $lt: toKey(firstIdAt(cutoff)) } } as never, limit)).length;
          case 'throttles':
            return (await deleteSome(throttles, { updated_at_ms: { $lt: cutoff.getTime() } }, limit)).length;
        }
      });
    },
  };
}
