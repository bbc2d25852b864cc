/**
 * Sessions (refresh-token families), single-use tokens and the audit log over MongoDB, plus the
 * indexes they need. Single-document operations only: each compare-and-set is one atomic
 * findOneAndUpdate / findOneAndDelete, so no multi-document transaction (and no replica set)
 * is required.
 */
import type { Collection, Db, Filter } from 'mongodb';
import type { AuditStore, OneTimeTokenStore, SessionStore } from '../store.js';
import {
  type AuditEventDocument,
  auditEventToDoc,
  docToAuditEvent,
  docToOneTimeToken,
  docToRefreshToken,
  docToSession,
  type OneTimeTokenDocument,
  oneTimeTokenToDoc,
  type RefreshTokenDocument,
  type SessionDocument,
  sessionToDoc,
  toKey,
} from './auth-documents.js';

/** Runs `work` on a connected client, translating driver errors into the Store's. */
export type MongoRunner = <T>(work: () => Promise<T>) => Promise<T>;

export interface AuthCollections {
  sessions: Collection<SessionDocument>;
  refreshTokens: Collection<RefreshTokenDocument>;
  oneTimeTokens: Collection<OneTimeTokenDocument>;
  auditEvents: Collection<AuditEventDocument>;
}

export function authCollections(db: Db): AuthCollections {
  return {
    sessions: db.collection<SessionDocument>('sessions'),
    refreshTokens: db.collection<RefreshTokenDocument>('refresh_tokens'),
    oneTimeTokens: db.collection<OneTimeTokenDocument>('one_time_tokens'),
    auditEvents: db.collection<AuditEventDocument>('audit_events'),
  };
}

/** Idempotent: createIndexes with an existing key and name changes nothing. */
export async function migrateAuth(c: AuthCollections): Promise<void> {
  // refresh_tokens and one_time_tokens are keyed by the hash (_id): unique by construction.
  await c.sessions.createIndex({ user_id: 1 }, { name: 'user_id_1' });
  await c.refreshTokens.createIndex({ user_id: 1 }, { name: 'user_id_1' });
  await c.refreshTokens.createIndex({ session_id: 1 }, { name: 'session_id_1' });
  await c.oneTimeTokens.createIndex({ user_id: 1, purpose: 1 }, { name: 'user_id_1_purpose_1' });
  // The periodic purge finds what is past keeping by these.
  await c.oneTimeTokens.createIndex({ expires_at: 1 }, { name: 'expires_at_1' });
  await c.sessions.createIndex({ expires_at: 1 }, { name: 'expires_at_1' });
  await c.sessions.createIndex({ revoked_at: 1 }, { name: 'revoked_at_1' });
  await c.refreshTokens.createIndex({ used_at: 1 }, { name: 'used_at_1' });
  await c.auditEvents.createIndexes([
    { key: { user_id: 1, _id: 1 }, name: 'user_id_1__id_1' },
    { key: { type: 1, _id: 1 }, name: 'type_1__id_1' },
  ]);
}

/** Removes what belongs to a user (not their audit trail, which outlives them). */
export async function deleteAuthDataOfUser(c: AuthCollections, userId: string): Promise<void> {
  const user_id = toKey(userId);
  // Tokens before sessions: a token never points at a session that is already gone.
  await c.refreshTokens.deleteMany({ user_id });
  await c.oneTimeTokens.deleteMany({ user_id });
  await c.sessions.deleteMany({ user_id });
}

/** Not expired at `now`; a null (or missing) expiry never expires. */
function live(now: Date): Filter<OneTimeTokenDocument> {
  return { $or: [{ expires_at: null }, { expires_at: { $gt: now } }] };
}

export function createMongoSessionStore(c: AuthCollections, run: MongoRunner): SessionStore {
  return {
    create(session, firstTokenHash) {
      return run(async () => {
        const doc = sessionToDoc(session);
        await c.sessions.insertOne(doc);
        try {
          await c.refreshTokens.insertOne({
            _id: firstTokenHash,
            session_id: doc._id,
            user_id: doc.user_id,
            created_at: session.createdAt,
            used_at: null,
          });
        } catch (error) {
          // No transaction: undo the session so a failed create leaves nothing behind.
          await c.sessions.deleteOne({ _id: doc._id }).catch(() => undefined);
          throw error;
        }
      });
    },

    findByTokenHash(hash) {
      return run(async () => {
        const token = await c.refreshTokens.findOne({ _id: hash });
        if (token === null) return null;
        const session = await c.sessions.findOne({ _id: token.session_id });
        // A session deleted with its user between the two reads: the token is gone too.
        if (session === null) return null;
        return { token: docToRefreshToken(token), session: docToSession(session) };
      });
    },

    rotate(oldHash, newHash, now) {
      return run(async () => {
        // The compare-and-set that makes a refresh token single-use: of concurrent racers, the
        // server lets exactly one match `used_at: null`. (null also matches a missing field.)
        const used = await c.refreshTokens.findOneAndUpdate(
          { _id: oldHash, used_at: null },
          { $set: { used_at: now } },
          { projection: { session_id: 1, user_id: 1 } },
        );
        if (used === null) return false;
        await c.refreshTokens.insertOne({
          _id: newHash,
          session_id: used.session_id,
          user_id: used.user_id,
          created_at: now,
          used_at: null,
        });
        await c.sessions.updateOne({ _id: used.session_id }, { $set: { last_used_at: now } });
        return true;
      });
    },

    revoke(sessionId, now) {
      return run(async () => {
        const result = await c.sessions.updateOne(
          { _id: toKey(sessionId), revoked_at: null },
          { $set: { revoked_at: now } },
        );
        return result.modifiedCount > 0;
      });
    },

    revokeAllOfUser(userId, now) {
      return run(async () => {
        const result = await c.sessions.updateMany(
          { user_id: toKey(userId), revoked_at: null },
          { $set: { revoked_at: now } },
        );
        return result.modifiedCount;
      });
    },

    touch(sessionId, now) {
      return run(async () => {
        await c.sessions.updateOne({ _id: toKey(sessionId) }, { $set: { last_used_at: now } });
      });
    },

    listActive(userId, now) {
      return run(async () => {
        const docs = await c.sessions
          .find({ user_id: toKey(userId), revoked_at: null, expires_at: { $gt: now } })
          .sort({ created_at: -1, _id: -1 })
          .toArray();
        return docs.map(docToSession);
      });
    },
  };
}

export function createMongoOneTimeTokenStore(c: AuthCollections, run: MongoRunner): OneTimeTokenStore {
  return {
    insert(token) {
      return run(async () => {
        await c.oneTimeTokens.insertOne(oneTimeTokenToDoc(token));
      });
    },

    consume(hash, purpose, now) {
      // One atomic delete-and-return: of concurrent racers, exactly one gets the document.
      return run(async () => {
        const doc = await c.oneTimeTokens.findOneAndDelete({ $and: [{ _id: hash, purpose }, live(now)] });
        return doc === null ? null : docToOneTimeToken(doc);
      });
    },

    find(hash, purpose, now) {
      return run(async () => {
        const doc = await c.oneTimeTokens.findOne({ $and: [{ _id: hash, purpose }, live(now)] });
        return doc === null ? null : docToOneTimeToken(doc);
      });
    },

    deleteForUser(userId, purpose) {
      return run(async () => {
        const result = await c.oneTimeTokens.deleteMany({ user_id: toKey(userId), purpose });
        return result.deletedCount;
      });
    },

    countForUser(userId, purpose) {
      return run(() => c.oneTimeTokens.countDocuments({ user_id: toKey(userId), purpose }));
    },
  };
}

export function createMongoAuditStore(c: AuthCollections, run: MongoRunner): AuditStore {
  return {
    insert(event) {
      return run(async () => {
        await c.auditEvents.insertOne(auditEventToDoc(event));
      });
    },

    async list(query) {
      // MongoDB reads limit 0 as "no limit"; a page of zero is an empty page.
      if (query.limit <= 0) return [];
      return run(async () => {
        const filter: Filter<AuditEventDocument> = {};
        if (query.before !== undefined) filter._id = { $lt: toKey(query.before) };
        if (query.userId !== undefined) filter.user_id = toKey(query.userId);
        if (query.type !== undefined) filter.type = query.type;
        // Ids in ObjectId form sort by their bytes, the same order as their lowercase hex.
        const docs = await c.auditEvents.find(filter).sort({ _id: -1 }).limit(query.limit).toArray();
        return docs.map(docToAuditEvent);
      });
    },
  };
}
