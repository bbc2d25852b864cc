/**
 * The Store over MongoDB (the official driver), in the old Python service's own layout:
 * collection `users`, one document per user (see user-document.ts). Pointing this service at
 * the old service's database is the migration: ids, bcrypt hashes and QR codes stay where they are.
 * The auth data the old service never had lives in collections of its own (see auth-stores.ts).
 */
import { type Filter, MongoClient, type MongoClientOptions } from 'mongodb';
import { type AdminGuard, LastAdmin, type ListUsersQuery, type NewUser, type Store, StoreUnavailable, type UserPatch } from '../store.js';
import {
  authCollections,
  createMongoAuditStore,
  createMongoOneTimeTokenStore,
  createMongoSessionStore,
  deleteAuthDataOfUser,
  migrateAuth,
} from './auth-stores.js';
import { attendanceCollections, createMongoAttendanceStore, deleteAttendanceOfUser, migrateAttendance } from './attendance-store.js';
import { migrateUsers } from './migrate-users.js';
import { translateMongoError } from './mongo-errors.js';
import { createMongoPasskeyStore, deletePasskeysOfUser, migratePasskeys, passkeyCollection } from './passkey-store.js';
import { createMongoOidcStore, migrateOidc, type OidcDocument } from './oidc-store.js';
import { createMongoPurgeStore } from './purge-store.js';
import { createMongoThrottleStore, migrateThrottles, type ThrottleDocument } from './throttle-store.js';
import { docToUser, patchToSet, prefixFilter, toObjectId, type UserDocument, usernameKey, userToDoc } from './user-document.js';

export interface MongoStoreConfig {
  url: string;
  dbName: string;
}

/**
 * Bounded waits, so an outage answers 503 in seconds instead of the driver's defaults (30 s to
 * select a server, no socket timeout at all). An option written in the URL wins: operators tune
 * Atlas through the connection string. TLS is not configured here on purpose: mongodb+srv://
 * (Atlas) turns it on and the driver verifies the server against Node's trusted root CAs
 * (extendable with NODE_EXTRA_CA_CERTS); nothing here weakens that verification.
 */
const DEFAULT_OPTIONS = {
  serverSelectionTimeoutMS: 5_000,
  connectTimeoutMS: 5_000,
  // Longest single read on a socket; above any query this store makes, below a hung request.
  socketTimeoutMS: 15_000,
  appName: 'auth-qr-service',
} satisfies MongoClientOptions;

/** Server-side bound for reads whose cost grows with the data (a case-insensitive prefix scan). */
const QUERY_MAX_TIME_MS = 10_000;

export function openMongoStore(config: MongoStoreConfig): Store {
  const client = new MongoClient(config.url, withDefaults(config.url, DEFAULT_OPTIONS));
  const db = client.db(config.dbName);
  const users = db.collection<UserDocument>('users');
  const auth = authCollections(db);
  const throttles = db.collection<ThrottleDocument>('login_throttles');
  const attendance = attendanceCollections(db);
  const passkeys = passkeyCollection(db);
  const oidcModels = db.collection<OidcDocument>('oidc_models');
  let closed = false;

  async function run<T>(work: () => Promise<T>): Promise<T> {
    // connect() again below must not quietly reopen a store the service has shut down.
    if (closed) throw new Error('the MongoDB store is closed');
    try {
      // Driver 6.x: when a client's first connection fails (the database is down at start-up),
      // it keeps a closed topology and fails every later call with "Topology is closed", so the
      // service would never recover. connect() replaces that topology, and returns at once
      // while connected; concurrent callers share one attempt.
      await client.connect();
      return await work();
    } catch (error) {
      throw translateMongoError(error);
    }
  }

  const isEnabledAdmin = (doc: Pick<UserDocument, 'role' | 'disabled'>) => doc.role === 'admin' && doc.disabled !== true;

  /**
   * Without multi-document transactions (a standalone server has none), the guard of the last
   * admin is a compensation: the change is written, then, if no enabled admin is left, undone
   * (`before`'s role and flag written back) and refused. Two admins demoting each other at the
   * same moment are then both undone: nobody is left without an admin, for longer than a moment.
   */
  async function keepAnAdmin(_id: UserDocument['_id'], before: UserDocument): Promise<void> {
    const remaining = await users.countDocuments({ role: 'admin', disabled: { $ne: true } });
    if (remaining > 0) return;
    await users.updateOne({ _id }, { $set: { role: before.role, disabled: before.disabled ?? false } });
    throw new LastAdmin();
  }

  return {
    kind: 'mongodb',

    migrate() {
      return run(async () => {
        await migrateUsers(users);
        await migrateAuth(auth);
        await migrateThrottles(throttles);
        await migrateAttendance(attendance);
        await migratePasskeys(passkeys);
        await migrateOidc(oidcModels);
      });
    },

    insertUser(user: NewUser) {
      return run(async () => {
        const doc = userToDoc(user);
        await users.insertOne(doc);
        return docToUser(doc);
      });
    },

    async findUserById(id) {
      const _id = toObjectId(id);
      if (_id === null) return null;
      return run(async () => {
        const doc = await users.findOne({ _id });
        return doc ? docToUser(doc) : null;
      });
    },

    findUserByEmail(email) {
      return run(async () => {
        const doc = await users.findOne({
          $or: [
            { email_lower: email.toLowerCase() },
            // A user the old service wrote after our last start-up has no email_lower yet (the two
            // may run side by side during a migration); find it by its exact email, as it did.
            { email_lower: { $exists: false }, email },
          ],
        });
        return doc ? docToUser(doc) : null;
      });
    },

    findUserByUsername(username) {
      return run(async () => {
        const doc = await users.findOne({
          $or: [
            { username_lower: usernameKey(username) },
            // Written by the old service after our last start-up: found by its exact username, as it did.
            { username_lower: { $exists: false }, username },
          ],
        });
        return doc ? docToUser(doc) : null;
      });
    },

    async listUsers(query: ListUsersQuery) {
      // MongoDB reads limit 0 as "no limit"; a page of zero is an empty page.
      if (query.limit <= 0) return [];
      const after = query.after === undefined ? undefined : toObjectId(query.after);
      // Not a cursor this service ever issued: nothing comes after it.
      if (after === null) return [];
      return run(async () => {
        const filters: Filter<UserDocument>[] = [];
        if (after !== undefined) filters.push({ _id: { $gt: after } });
        if (query.role !== undefined) filters.push({ role: query.role });
        if (query.prefix !== undefined && query.prefix !== '') filters.push(prefixFilter(query.prefix));
        const filter: Filter<UserDocument> = filters.length === 0 ? {} : { $and: filters };
        const docs = await users
          .find(filter, { sort: { _id: 1 }, limit: query.limit, maxTimeMS: QUERY_MAX_TIME_MS })
          .toArray();
        return docs.map(docToUser);
      });
    },

    countUsers(filter = {}) {
      return run(() =>
        users.countDocuments(filter.role === undefined ? {} : { role: filter.role }, { maxTimeMS: QUERY_MAX_TIME_MS }),
      );
    },

    async updateUser(id, patch: UserPatch, options: AdminGuard = {}) {
      const _id = toObjectId(id);
      if (_id === null) return null;
      return run(async () => {
        const set = patchToSet(patch);
        if (Object.keys(set).length === 0) {
          const doc = await users.findOne({ _id });
          return doc ? docToUser(doc) : null;
        }
        const before = await users.findOneAndUpdate({ _id }, { $set: set }, { returnDocument: 'before' });
        if (before === null) return null;
        if (options.keepEnabledAdmin && isEnabledAdmin(before)) await keepAnAdmin(_id, before);
        const doc = await users.findOne({ _id });
        return doc ? docToUser(doc) : null;
      });
    },

    async deleteUser(id, options: AdminGuard = {}) {
      const _id = toObjectId(id);
      if (_id === null) return false;
      if (options.keepEnabledAdmin) {
        // Demoted first (guarded like any demotion), then deleted: a user who is no admin any more.
        const demoted = await this.updateUser(id, { role: 'student', disabled: true }, options);
        if (demoted === null) return false;
      }
      return run(async () => {
        const result = await users.deleteOne({ _id });
        // No foreign keys here: what ON DELETE CASCADE does in SQL is done by hand, after the user
        // is gone (a failure in between leaves tokens of a missing user, which nothing accepts).
        await deleteAuthDataOfUser(auth, id);
        await deleteAttendanceOfUser(attendance, id);
        await deletePasskeysOfUser(passkeys, id);
        return result.deletedCount > 0;
      });
    },

    async bumpTokenVersion(id) {
      const _id = toObjectId(id);
      if (_id === null) return null;
      return run(async () => {
        // $inc starts a missing field (an old service's document) from 0.
        const doc = await users.findOneAndUpdate(
          { _id },
          { $inc: { token_version: 1 }, $unset: { revoked_sessions: '' } },
          { returnDocument: 'after', projection: { token_version: 1 } },
        );
        return doc === null ? null : Number(doc.token_version);
      });
    },

    async addRevokedSession(userId, entry, now) {
      const _id = toObjectId(userId);
      if (_id === null) return null;
      return run(async () => {
        // One pipeline update: the expired entries (and an older entry of this session) dropped and
        // the new one appended in a single atomic write of the document.
        const doc = await users.findOneAndUpdate(
          { _id },
          [
            {
              $set: {
                revoked_sessions: {
                  $concatArrays: [
                    {
                      $filter: {
                        input: { $ifNull: ['$revoked_sessions', []] },
                        cond: { $and: [{ $gt: ['$$this.until', now] }, { $ne: ['$$this.session_id', entry.sessionId] }] },
                      },
                    },
                    [{ session_id: entry.sessionId, until: entry.until }],
                  ],
                },
              },
            },
          ],
          { returnDocument: 'after', projection: { revoked_sessions: 1 } },
        );
        return doc === null ? null : (doc.revoked_sessions?.length ?? 0);
      });
    },

    hasLegacyPasswordHashes() {
      return run(async () => (await users.findOne({ password: { $regex: /^\$2/ } }, { projection: { _id: 1 } })) !== null);
    },

    async claimTotpStep(id, step) {
      const _id = toObjectId(id);
      if (_id === null) return false;
      return run(async () => {
        // One conditional update: of concurrent claims of a step, exactly one matches. A document
        // without totp_last_step (the old service's) counts as 0, as USER_DEFAULTS says.
        const newer: Filter<UserDocument>[] = [{ totp_last_step: { $lt: step } }];
        if (step > 0) newer.push({ totp_last_step: { $exists: false } });
        const result = await users.updateOne({ _id, $or: newer }, { $set: { totp_last_step: step } });
        return result.modifiedCount > 0;
      });
    },

    sessions: createMongoSessionStore(auth, run),
    oneTimeTokens: createMongoOneTimeTokenStore(auth, run),
    audit: createMongoAuditStore(auth, run),
    throttles: createMongoThrottleStore(throttles, run),
    attendance: createMongoAttendanceStore(attendance, run),
    purge: createMongoPurgeStore(auth, throttles, run),
    passkeys: createMongoPasskeyStore(passkeys, run),
    oidc: createMongoOidcStore(oidcModels, run),

    async ping() {
      try {
        await run(() => db.command({ ping: 1 }));
      } catch (error) {
        if (error instanceof StoreUnavailable) throw error;
        throw new StoreUnavailable('database did not answer', { cause: error });
      }
    },

    async close() {
      closed = true;
      await client.close();
    },
  };
}

/** Our defaults, minus every option the connection string sets itself (URI keys are case-insensitive). */
function withDefaults(url: string, defaults: MongoClientOptions): MongoClientOptions {
  const query = url.indexOf('?');
  const given = new Set(
    query < 0 ? [] : [...new URLSearchParams(url.slice(query + 1)).keys()].map((k) => k.toLowerCase()),
  );
  return Object.fromEntries(Object.entries(defaults).filter(([key]) => !given.has(key.toLowerCase())));
}
