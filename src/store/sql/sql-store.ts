/**
 * The Store over Kysely: one query code for SQLite and PostgreSQL. The dialect-specific parts
 * (opening the connection, recognising errors) come in through `SqlDriverParts`.
 */
import { type Kysely, Migrator, type Selectable, sql, type Updateable } from 'kysely';
import {
  type ListUsersQuery,
  type NewUser,
  type Role,
  type Store,
  StoreUnavailable,
  type User,
  type UserPatch,
} from '../store.js';
import { migrationProvider, type SqlDialect } from './migrations.js';
import type { Tables, UsersTable } from './tables.js';

export interface SqlDriverParts {
  dialect: SqlDialect;
  db: Kysely<Tables>;
  /** Maps a driver error to Conflict / StoreUnavailable, or returns it unchanged. */
  translateError(error: unknown): unknown;
  /** Encodes a Date for the created_at column. */
  encodeDate(date: Date): string | Date;
}

export function rowToUser(row: Selectable<UsersTable>): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    passwordHash: row.password_hash,
    fullName: row.full_name,
    role: row.role as Role,
    createdAt: row.created_at instanceof Date ? row.created_at : new Date(row.created_at),
    qrCode: row.qr_code,
  };
}

/** Escapes LIKE wildcards so a user's prefix matches literally. */
function likePrefix(prefix: string): string {
  return `${prefix.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function createSqlStore(parts: SqlDriverParts): Store {
  const { db, dialect, translateError, encodeDate } = parts;

  async function run<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw translateError(error);
    }
  }

  return {
    kind: dialect,

    async migrate() {
      const migrator = new Migrator({ db, provider: migrationProvider(dialect) });
      const { error, results } = await migrator.migrateToLatest();
      const failed = results?.find((r) => r.status === 'Error');
      if (error !== undefined || failed !== undefined) {
        throw new Error(`migration ${failed?.migrationName ?? ''} failed`, { cause: error });
      }
    },

    insertUser(user: NewUser) {
      return run(async () => {
        const row = await db
          .insertInto('users')
          .values({
            id: user.id,
            username: user.username,
            email: user.email,
            email_lower: user.email.toLowerCase(),
            password_hash: user.passwordHash,
            full_name: user.fullName,
            role: user.role,
            created_at: encodeDate(user.createdAt),
            qr_code: user.qrCode ?? null,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return rowToUser(row);
      });
    },

    findUserById(id) {
      return run(async () => {
        const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
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
        const row = await db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
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
              eb(eb.fn('lower', ['username']), 'like', sql<string>`${pattern} escape '\\'`),
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

    updateUser(id, patch: UserPatch) {
      return run(async () => {
        const values: Updateable<UsersTable> = {};
        if (patch.username !== undefined) values.username = patch.username;
        if (patch.email !== undefined) {
          values.email = patch.email;
          values.email_lower = patch.email.toLowerCase();
        }
        if (patch.passwordHash !== undefined) values.password_hash = patch.passwordHash;
        if (patch.fullName !== undefined) values.full_name = patch.fullName;
        if (patch.role !== undefined) values.role = patch.role;
        if (patch.qrCode !== undefined) values.qr_code = patch.qrCode;
        const row = await db
          .updateTable('users')
          .set({ ...values, row_version: sql`row_version + 1` })
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirst();
        return row ? rowToUser(row) : null;
      });
    },

    deleteUser(id) {
      return run(async () => {
        const result = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
        return Number(result.numDeletedRows) > 0;
      });
    },

    async ping() {
      try {
        await sql`select 1`.execute(db);
      } catch (error) {
        throw new StoreUnavailable('database did not answer', { cause: error });
      }
    },

    async close() {
      await db.destroy();
    },
  };
}

