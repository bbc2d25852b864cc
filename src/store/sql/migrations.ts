/**
 * The versioned migrations of the SQL stores: one list for SQLite and PostgreSQL. Where the
 * dialects differ (only the timestamp type so far) the difference is a visible parameter.
 * Never edit a migration that has shipped; add the next one.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';

export type SqlDialect = 'sqlite' | 'postgres';

function migrations(dialect: SqlDialect): Record<string, Migration> {
  const timestamp = dialect === 'postgres' ? 'timestamptz' : 'text';
  return {
    '0001_users': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('users')
          .addColumn('id', 'varchar(24)', (c) => c.primaryKey())
          .addColumn('username', 'text', (c) => c.notNull())
          .addColumn('email', 'text', (c) => c.notNull())
          .addColumn('email_lower', 'text', (c) => c.notNull())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('full_name', 'text')
          .addColumn('role', 'varchar(16)', (c) => c.notNull())
          .addColumn('created_at', timestamp, (c) => c.notNull())
          .addColumn('qr_code', 'text')
          .addColumn('row_version', 'integer', (c) => c.notNull().defaultTo(1))
          .execute();
        await db.schema.createIndex('users_email_lower_key').on('users').column('email_lower').unique().execute();
        await db.schema.createIndex('users_username_key').on('users').column('username').unique().execute();
        // Keyset paging filtered by role walks this index in id order.
        await db.schema.createIndex('users_role_id_idx').on('users').columns(['role', 'id']).execute();
      },
    },
  };
}

export function migrationProvider(dialect: SqlDialect): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}
