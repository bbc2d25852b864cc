/**
 * The versioned migrations of the SQL stores: one list for SQLite and PostgreSQL. Where the
 * dialects differ (timestamp and boolean types) the difference is a visible parameter.
 * Never edit a migration that has shipped; add the next one.
 */
import { type ColumnDefinitionBuilder, type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';

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
    '0002_auth': {
      // Sessions, single-use tokens, the audit log, and the user fields that auth needs.
      async up(db: Kysely<unknown>) {
        const flag = dialect === 'postgres' ? 'boolean' : 'integer';
        const no = dialect === 'postgres' ? sql`false` : sql`0`;
        const columns: [string, string, (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder][] = [
          ['qr_issued_at', timestamp, (c) => c],
          ['disabled', flag, (c) => c.notNull().defaultTo(no)],
          ['email_verified', flag, (c) => c.notNull().defaultTo(no)],
          ['token_version', 'integer', (c) => c.notNull().defaultTo(0)],
          ['totp_secret', 'text', (c) => c],
          ['totp_enabled', flag, (c) => c.notNull().defaultTo(no)],
          ['totp_last_step', 'bigint', (c) => c.notNull().defaultTo(0)],
          ['failed_logins', 'integer', (c) => c.notNull().defaultTo(0)],
          ['locked_until', timestamp, (c) => c],
        ];
        for (const [name, type, build] of columns) {
          await db.schema
            .alterTable('users')
            .addColumn(name, sql.raw(type), build)
            .execute();
        }

        await db.schema
          .createTable('sessions')
          .addColumn('id', 'varchar(24)', (c) => c.primaryKey())
          .addColumn('user_id', 'varchar(24)', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('created_at', timestamp, (c) => c.notNull())
          .addColumn('last_used_at', timestamp, (c) => c.notNull())
          .addColumn('expires_at', timestamp, (c) => c.notNull())
          .addColumn('revoked_at', timestamp)
          .addColumn('user_agent', 'text')
          .addColumn('ip', 'text')
          .execute();
        await db.schema.createIndex('sessions_user_id_idx').on('sessions').column('user_id').execute();

        await db.schema
          .createTable('refresh_tokens')
          .addColumn('hash', 'varchar(64)', (c) => c.primaryKey())
          .addColumn('session_id', 'varchar(24)', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
          .addColumn('created_at', timestamp, (c) => c.notNull())
          .addColumn('used_at', timestamp)
          .execute();
        await db.schema.createIndex('refresh_tokens_session_id_idx').on('refresh_tokens').column('session_id').execute();

        await db.schema
          .createTable('one_time_tokens')
          .addColumn('hash', 'varchar(64)', (c) => c.primaryKey())
          .addColumn('purpose', 'varchar(32)', (c) => c.notNull())
          .addColumn('user_id', 'varchar(24)', (c) => c.references('users.id').onDelete('cascade'))
          .addColumn('created_at', timestamp, (c) => c.notNull())
          .addColumn('expires_at', timestamp)
          .addColumn('data', 'text')
          .execute();
        await db.schema
          .createIndex('one_time_tokens_user_purpose_idx')
          .on('one_time_tokens')
          .columns(['user_id', 'purpose'])
          .execute();

        // No foreign key to users: the audit trail outlives the accounts it mentions.
        await db.schema
          .createTable('audit_events')
          .addColumn('id', 'varchar(24)', (c) => c.primaryKey())
          .addColumn('at', timestamp, (c) => c.notNull())
          .addColumn('type', 'varchar(64)', (c) => c.notNull())
          .addColumn('user_id', 'varchar(24)')
          .addColumn('actor_id', 'varchar(24)')
          .addColumn('ip', 'text')
          .addColumn('user_agent', 'text')
          .addColumn('detail', 'text')
          .execute();
        await db.schema.createIndex('audit_events_user_id_idx').on('audit_events').columns(['user_id', 'id']).execute();
        await db.schema.createIndex('audit_events_type_idx').on('audit_events').columns(['type', 'id']).execute();
      },
    },
  };
}

export function migrationProvider(dialect: SqlDialect): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}
