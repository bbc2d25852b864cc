/**
 * The Store over Kysely: one query code for SQLite and PostgreSQL. The dialect-specific parts
 * (opening the connection, recognising errors, encoding dates and booleans) come in through
 * `SqlDriverParts`. Sessions, single-use tokens and the audit log live in sql-auth-stores.ts.
 */
import { type Kysely, Migrator, type Selectable, sql, type Updateable } from 'kysely';
import {
  type AdminGuard,
  LastAdmin,
  type ListUsersQuery,
  type NewUser,
  type RevokedSession,
  type Role,
  type Store,
  StoreUnavailable,
  USER_DEFAULTS,
  type User,
  type UserPatch,
} from '../store.js';
import { toDate, toDateOrNull } from './dates.js';
import { migrationProvider, type SqlDialect, usernameKey } from './migrations.js';
import { createSqlAuditStore, createSqlOneTimeTokenStore, createSqlSessionStore } from './sql-auth-stores.js';
import { createSqlAttendanceStore } from './sql-attendance-store.js';
import { createSqlPasskeyStore } from './sql-passkey-store.js';
import { createSqlOidcStore } from './sql-oidc-store.js';
import { createSqlPurgeStore } from './sql-purge-store.js';
import { createSqlThrottleStore } from './sql-throttle-store.js';
import type { Tables, UsersTable } from './tables.js';
import type { UserCache } from './user-cache.js';

export interface SqlDriverParts {
  dialect: SqlDialect;
  db: Kysely<Tables>;
  /** Maps a driver error to Conflict / StoreUnavailable, or returns it unchanged. */
  translateError(error: unknown): unknown;
  /** Encodes a Date for a timestamp column. */
  encodeDate(date: Date): string | Date;
  /** Encodes a boolean for a flag column (better-sqlite3 binds no booleans). */
  encodeBool(value: boolean): number | boolean;
  /**
   * Optional: the user row with this id, read without Kysely. Every authenticated request does
   * this lookup; on SQLite Kysely's query building and promise layers cost as much as the query
   * itself (bench/: `me`). Same row, same errors (run through translateError) as the Kysely query.
   */
  userRowById?(id: string): UserRow | undefined;
  /** Optional: users' rows kept between requests, and what keeps them right (sql/user-cache.ts). */
  userCache?: UserCache;
  /**
   * Optional: the feed of changes to users' rows (postgres/user-changes.ts). A change that ends
   * tokens (disabling, a role, a token version, a revoked session, a deletion) returns once every
   * other instance confirmed it forgot the row, so none answers from the old one afterwards.
   */
  userChanges?: { confirm(id: string): Promise<void> };
  /** Optional: run at close, before the database connections end. */
  onClose?(): Promise<void>;
}

/** The columns a User is made of (the rest are keys, bookkeeping or no longer used). */
export type UserRow = Omit<
  Selectable<UsersTable>,
  'email_lower' | 'username_lower' | 'row_version' | 'failed_logins' | 'locked_until'
>;

/** Attempts at an optimistic update of one user's revoked sessions before giving up. */
const CAS_ATTEMPTS = 20;

function parseRevokedSessions(json: string | null): RevokedSession[] {
  if (json === null || json === '') return [];
  try {
    const entries = JSON.parse(json) as unknown;
    if (!Array.isArray(entries)) return [];
    return entries.flatMap((e) =>
      Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'number' ? [{ sessionId: e[0], until: new Date(e[1]) }] : [],
    );
  } catch {
    return [];
  }
}

const serializeRevokedSessions = (entries: RevokedSession[]) =>
  entries.length === 0 ? null : JSON.stringify(entries.map((e) => [e.sessionId, e.until.getTime()]));

export function rowToUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    passwordHash: row.password_hash,
    fullName: row.full_name,
    role: row.role as Role,
    createdAt: toDate(row.created_at),
    qrCode: row.qr_code,
    qrIssuedAt: toDateOrNull(row.qr_issued_at),
    disabled: Boolean(row.disabled),
    emailVerified: Boolean(row.email_verified),
    tokenVersion: Number(row.token_version),
    totpSecret: row.totp_secret,
    totpEnabled: Boolean(row.totp_enabled),
    // bigint: PostgreSQL sends it as a string.
    totpLastStep: Number(row.totp_last_step),
    revokedSessions: parseRevokedSessions(row.revoked_sessions),
  };
}

/** Escapes LIKE wildcards so a user's prefix matches literally. */
function likePrefix(prefix: string): string {
  return `${prefix.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Runs `work`, translating driver errors into the Store's (Conflict, StoreUnavailable). */
export type Runner = <T>(work: () => Promise<T>) => Promise<T>;

export function createSqlStore(parts: SqlDriverParts): Store {
  const { db, dialect, translateError, encodeDate, encodeBool } = parts;

  /**
   * Inside a transaction: throws LastAdmin when `id` is an enabled admin, would not be one after
   * the write (`after` null: deleted), and no other enabled admin exists. On PostgreSQL the enabled
   * admins' rows are locked first (FOR UPDATE): a concurrent demotion waits for this transaction
   * and then sees its result. SQLite runs one write transaction at a time anyway.
   */
  async function guardLastAdmin(
    trx: Kysely<Tables>,
    id: string,
    after: (target: { role: string; disabled: unknown }) => { role: string; disabled: boolean } | null,
  ): Promise<void> {
    let admins = trx.selectFrom('users').select(['id', 'role', 'disabled']).where('role', '=', 'admin').where('disabled', '=', encodeBool(false));
    if (dialect === 'postgres') admins = admins.forUpdate();
    const enabled = await admins.execute();
    const target = enabled.find((a) => a.id === id);
    if (target === undefined) return;
    const next = after(target);
    const stays = next !== null && next.role === 'admin' && !next.disabled;
    if (!stays && enabled.length <= 1) throw new LastAdmin();
  }

  let closed = false;
  const run: Runner = async (work) => {
    // After close() Kysely throws a plain Error; a closed store is an unavailable database (503).
    if (closed) throw new StoreUnavailable('the database connection is closed');
    try {
      return await work();
    } catch (error) {
      throw translateError(error);
    }
  };

  /** A change of user `id`'s row that ends tokens: when it changed something, confirmed everywhere (see userChanges). */
  async function endingTokens<T>(id: string, write: () => Promise<T>): Promise<T> {
    const result = await write();
    if (parts.userChanges !== undefined && result !== null && result !== false) await parts.userChanges.confirm(id);
    return result;
  }

  function patchToRow(patch: UserPatch): Updateable<UsersTable> {
    const values: Updateable<UsersTable> = {};
    if (patch.username !== undefined) {
      values.username = patch.username;
      values.username_lower = usernameKey(patch.username);
    }
    if (patch.email !== undefined) {
      values.email = patch.email;
      values.email_lower = patch.email.toLowerCase();
    }
    if (patch.passwordHash !== undefined) values.password_hash = patch.passwordHash;
    if (patch.fullName !== undefined) values.full_name = patch.fullName;
    if (patch.role !== undefined) values.role = patch.role;
    if (patch.qrCode !== undefined) values.qr_code = patch.qrCode;
    if (patch.qrIssuedAt !== undefined) values.qr_issued_at = patch.qrIssuedAt && encodeDate(patch.qrIssuedAt);
    if (patch.disabled !== undefined) values.disabled = encodeBool(patch.disabled);
    if (patch.emailVerified !== undefined) values.email_verified = encodeBool(patch.emailVerified);
    if (patch.totpSecret !== undefined) values.totp_secret = patch.totpSecret;
    if (patch.totpEnabled !== undefined) values.totp_enabled = encodeBool(patch.totpEnabled);
    if (patch.totpLastStep !== undefined) values.totp_last_step = patch.totpLastStep;
    return values;
  }

  return {
    kind: dialect,

    async migrate() {
      // Migrations written on branches side by side may land in either order; none depends on
      // another's, so one that arrives after a later-numbered one still runs.
      const migrator = new Migrator({ db, provider: migrationProvider(dialect), allowUnorderedMigrations: true });
      const { error, results } = await migrator.migrateToLatest();
      const failed = results?.find((r) => r.status === 'Error');
      if (error !== undefined || failed !== undefined) {
        throw new Error(`migration ${failed?.migrationName ?? ''} failed`, { cause: error });
      }
    },

    insertUser(input: NewUser) {
      return run(async () => {
        const user = { ...USER_DEFAULTS, ...input };
        const row = await db
          .insertInto('users')
          .values({
            id: user.id,
            username: user.username,
            username_lower: usernameKey(user.username),
            email: user.email,
            email_lower: user.email.toLowerCase(),
            password_hash: user.passwordHash,
            full_name: user.fullName,
            role: user.role,
            created_at: encodeDate(user.createdAt),
            qr_code: user.qrCode,
            qr_issued_at: user.qrIssuedAt && encodeDate(user.qrIssuedAt),
            disabled: encodeBool(user.disabled),
            email_verified: encodeBool(user.emailVerified),
            token_version: user.tokenVersion,
            totp_secret: user.totpSecret,
            totp_enabled: encodeBool(user.totpEnabled),
            totp_last_step: user.totpLastStep,
            failed_logins: 0,
            locked_until: null,
            revoked_sessions: serializeRevokedSessions(user.revokedSessions),
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return rowToUser(row);
      });
    },

    findUserById(id) {
      const { userRowById } = parts;
      if (userRowById !== undefined) {
        // Synchronous underneath: no async frames around it (it runs on every request).
        if (closed) return Promise.reject(new StoreUnavailable('the database connection is closed'));
        try {
          const row = userRowById(id);
          return Promise.resolve(row ? rowToUser(row) : null);
        } catch (error) {
          return Promise.reject(translateError(error));
        }
      }
      const load = () => db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      const { userCache } = parts;
      return run(async () => {
        const row = userCache === undefined ? await load() : await userCache.get(id, load);
        return row ? rowToUser(row) : null;
      });
    },

    findUserByEmail(email) {
      return run(async () => {
        const row = await db
          .selectFrom('users')
          .selectAll()
          .where('email_lower', '=', email.toLowerCase())
          .executeTakeFirst();
        return row ? rowToUser(row) : null;
      });
    },

    findUserByUsername(username) {
      return run(async () => {
        const row = await db
          .selectFrom('users')
          .selectAll()
          .where('username_lower', '=', usernameKey(username))
          .executeTakeFirst();
        return row ? rowToUser(row) : null;
      });
    },

    listUsers(query: ListUsersQuery) {
      return run(async () => {
        let q = db.selectFrom('users').selectAll().orderBy('id').limit(query.limit);
        if (query.after !== undefined) q = q.where('id', '>', query.after);
        if (query.role !== undefined) q = q.where('role', '=', query.role);
        if (query.prefix !== undefined && query.prefix !== '') {
          const pattern = likePrefix(query.prefix);
          q = q.where((eb) =>
            eb.or([
              eb('email_lower', 'like', sql<string>`${pattern} escape '\\'`),
              eb('username_lower', 'like', sql<string>`${pattern} escape '\\'`),
            ]),
          );
        }
        return (await q.execute()).map(rowToUser);
      });
    },

    countUsers(filter = {}) {
      return run(async () => {
        let q = db.selectFrom('users').select((eb) => eb.fn.countAll<string | number>().as('n'));
        if (filter.role !== undefined) q = q.where('role', '=', filter.role);
        const row = await q.executeTakeFirstOrThrow();
        return Number(row.n);
      });
    },

    updateUser(id, patch: UserPatch, options: AdminGuard = {}) {
      const write = async () => {
        const update = (on: Kysely<Tables>) =>
          on
            .updateTable('users')
            .set({ ...patchToRow(patch), row_version: sql`row_version + 1` })
            .where('id', '=', id)
            .returningAll()
            .executeTakeFirst();
        if (!options.keepEnabledAdmin) {
          const row = await update(db);
          return row ? rowToUser(row) : null;
        }
        return db.transaction().execute(async (trx) => {
          const after = (target: { role: string; disabled: unknown }) => ({
            role: patch.role ?? target.role,
            disabled: patch.disabled ?? Boolean(target.disabled),
          });
          await guardLastAdmin(trx, id, after);
          const row = await update(trx);
          return row ? rowToUser(row) : null;
        });
      };
      // A role or a disabling counts on every request: no instance may answer from the old row.
      const endsTokens = patch.role !== undefined || patch.disabled !== undefined;
      return run(() => (endsTokens ? endingTokens(id, write) : write()));
    },

    deleteUser(id, options: AdminGuard = {}) {
      // Sessions, refresh tokens and single-use tokens go with the user (ON DELETE CASCADE).
      return run(() => endingTokens(id, async () => {
        const remove = async (on: Kysely<Tables>) => Number((await on.deleteFrom('users').where('id', '=', id).executeTakeFirst()).numDeletedRows) > 0;
        if (!options.keepEnabledAdmin) return remove(db);
        return db.transaction().execute(async (trx) => {
          await guardLastAdmin(trx, id, () => null);
          return remove(trx);
        });
      }));
    },

    bumpTokenVersion(id) {
      return run(() => endingTokens(id, async () => {
        const row = await db
          .updateTable('users')
          .set({ token_version: sql`token_version + 1`, revoked_sessions: null, row_version: sql`row_version + 1` })
          .where('id', '=', id)
          .returning('token_version')
          .executeTakeFirst();
        return row ? Number(row.token_version) : null;
      }));
    },

    addRevokedSession(userId, entry, now) {
      return run(() => endingTokens(userId, async () => {
        // Compare-and-set on row_version, which every write of the row bumps: two sessions revoked
        // at the same moment both land in the list.
        for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
          const row = await db
            .selectFrom('users')
            .select(['revoked_sessions', 'row_version'])
            .where('id', '=', userId)
            .executeTakeFirst();
          if (row === undefined) return null;
          const entries = parseRevokedSessions(row.revoked_sessions).filter(
            (e) => e.until > now && e.sessionId !== entry.sessionId,
          );
          entries.push(entry);
          const result = await db
            .updateTable('users')
            .set({ revoked_sessions: serializeRevokedSessions(entries), row_version: sql`row_version + 1` })
            .where('id', '=', userId)
            .where('row_version', '=', row.row_version)
            .executeTakeFirst();
          if (Number(result.numUpdatedRows) > 0) return entries.length;
        }
        throw new StoreUnavailable('users: too much contention on one user row');
      }));
    },

    hasLegacyPasswordHashes() {
      return run(async () => {
        const row = await db
          .selectFrom('users')
          .select('id')
          .where('password_hash', 'like', '$2%')
          .limit(1)
          .executeTakeFirst();
        return row !== undefined;
      });
    },

    claimTotpStep(id, step) {
      return run(async () => {
        const result = await db
          .updateTable('users')
          .set({ totp_last_step: step })
          .where('id', '=', id)
          .where('totp_last_step', '<', step)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      });
    },

    sessions: createSqlSessionStore(db, run, encodeDate),
    oneTimeTokens: createSqlOneTimeTokenStore(db, run, encodeDate),
    audit: createSqlAuditStore(db, run, encodeDate),
    throttles: createSqlThrottleStore(db, run),
    purge: createSqlPurgeStore(db, run, encodeDate),
    attendance: createSqlAttendanceStore(db, run, encodeDate, encodeBool),
    passkeys: createSqlPasskeyStore(db, run, { dialect, encodeDate, encodeBool }),
    oidc: createSqlOidcStore(db, run, encodeDate),

    async ping() {
      if (closed) throw new StoreUnavailable('the database connection is closed');
      try {
        await sql`select 1`.execute(db);
      } catch (error) {
        throw new StoreUnavailable('database did not answer', { cause: error });
      }
    },

    async close() {
      closed = true;
      await parts.onClose?.();
      await db.destroy();
    },
  };
}
