/**
 * The versioned migrations of the SQL stores: one list for SQLite and PostgreSQL. Where the
 * dialects differ (timestamp and boolean types) the difference is a visible parameter.
 * Never edit a migration that has shipped; add the next one.
 */
import { type ColumnDefinitionBuilder, type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';
import { createAttendanceTables } from './sql-attendance-store.js';

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
    '0003_usernames_revocations_throttles': {
      // Usernames unique regardless of case (like emails), the sessions whose access tokens are
      // refused before they expire, and the counters of failed attempts (auth/login/login-throttle.ts).
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('users').addColumn('username_lower', 'text').execute();
        await db.schema.alterTable('users').addColumn('revoked_sessions', 'text').execute();
        await backfillUsernameLower(db as Kysely<{ users: { id: string; username: string; username_lower: string | null } }>);
        await db.schema.createIndex('users_username_lower_key').on('users').column('username_lower').unique().execute();

        await db.schema
          .createTable('login_throttles')
          .addColumn('key', 'varchar(64)', (c) => c.primaryKey())
          .addColumn('subject', 'varchar(64)', (c) => c.notNull())
          .addColumn('failures', 'integer', (c) => c.notNull())
          .addColumn('lock_seconds', 'integer', (c) => c.notNull())
          // Milliseconds since the epoch: the same arithmetic in both dialects' SQL.
          .addColumn('locked_until_ms', 'bigint', (c) => c.notNull())
          .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('login_throttles_subject_idx').on('login_throttles').column('subject').execute();
        await db.schema.createIndex('login_throttles_updated_idx').on('login_throttles').column('updated_at_ms').execute();
      },
    },
    '0005_purge_indexes': {
      // The periodic purge finds what is past keeping by these, a batch at a time.
      async up(db: Kysely<unknown>) {
        await db.schema.createIndex('one_time_tokens_expires_idx').on('one_time_tokens').column('expires_at').execute();
        await db.schema.createIndex('sessions_expires_idx').on('sessions').column('expires_at').execute();
        await db.schema.createIndex('sessions_revoked_idx').on('sessions').column('revoked_at').execute();
        await db.schema.createIndex('refresh_tokens_used_idx').on('refresh_tokens').column('used_at').execute();
      },
    },
    '0007_attendance': {
      // Courses, their teachers and rosters, sessions and check-ins (issue 13; sql-attendance-store.ts).
      async up(db: Kysely<unknown>) {
        await createAttendanceTables(db, timestamp, dialect === 'postgres' ? 'boolean' : 'integer');
      },
    },
    '0006_passkeys': {
      // WebAuthn credentials (store/passkey-store.ts). Their challenges are one-time tokens.
      async up(db: Kysely<unknown>) {
        const flag = dialect === 'postgres' ? 'boolean' : 'integer';
        await db.schema
          .createTable('passkeys')
          // Credential ids are at most 1023 bytes (WebAuthn L3), base64url: up to 1364 characters.
          .addColumn('id', 'varchar(1400)', (c) => c.primaryKey())
          .addColumn('user_id', 'varchar(24)', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('public_key', 'text', (c) => c.notNull())
          .addColumn('counter', 'bigint', (c) => c.notNull())
          .addColumn('transports', 'text', (c) => c.notNull())
          .addColumn('device_type', 'varchar(16)', (c) => c.notNull())
          .addColumn('backed_up', sql.raw(flag), (c) => c.notNull())
          .addColumn('backup_eligible', sql.raw(flag), (c) => c.notNull())
          .addColumn('aaguid', 'varchar(36)', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('created_at', timestamp, (c) => c.notNull())
          .addColumn('last_used_at', timestamp)
          .execute();
        await db.schema.createIndex('passkeys_user_id_idx').on('passkeys').column('user_id').execute();
      },
    },
    '0008_oidc': {
      // The OpenID Connect provider's records (oidc/oidc-adapter.ts): one generic table, since the
      // provider's own models (sessions, grants, codes, tokens, clients) differ only in payload.
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('oidc_models')
          .addColumn('model', 'varchar(40)', (c) => c.notNull())
          .addColumn('id', 'varchar(255)', (c) => c.notNull())
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('grant_id', 'varchar(255)')
          .addColumn('user_code', 'varchar(255)')
          .addColumn('uid', 'varchar(255)')
          .addColumn('expires_at', timestamp)
          .addColumn('consumed_at', timestamp)
          .addPrimaryKeyConstraint('oidc_models_pkey', ['model', 'id'])
          .execute();
        await db.schema.createIndex('oidc_models_grant_idx').on('oidc_models').column('grant_id').execute();
        await db.schema.createIndex('oidc_models_uid_idx').on('oidc_models').column('uid').execute();
        await db.schema.createIndex('oidc_models_user_code_idx').on('oidc_models').column('user_code').execute();
        await db.schema.createIndex('oidc_models_expires_idx').on('oidc_models').column('expires_at').execute();
      },
    },
    '0004_session_kind': {
      // Browser sessions (the web front's cookie) beside the API's refresh-token sessions.
      async up(db: Kysely<unknown>) {
        await db.schema
          .alterTable('sessions')
          .addColumn('kind', 'varchar(16)', (c) => c.notNull().defaultTo('api'))
          .execute();
      },
    },
    '0009_users_change_notify': {
      // PostgreSQL: every updated or deleted user row is announced to the instances that cache
      // users' rows (sql/user-cache.ts), whoever wrote it (an instance, the CLI, psql). The notice
      // goes out when the change commits. SQLite needs none: it has one file and PRAGMA data_version.
      async up(db: Kysely<unknown>) {
        if (dialect !== 'postgres') return;
        await sql`create or replace function authqr_users_notify() returns trigger language plpgsql as $$
begin
  perform pg_notify('authqr_user_changes', old.id);
  return null;
end $$`.execute(db);
        await sql`create trigger users_notify_change after update or delete on users
  for each row execute function authqr_users_notify()`.execute(db);
      },
    },
  };
}

/** JavaScript's lower-casing, as the stores compute it for every later write and lookup. */
export const usernameKey = (username: string) => username.toLowerCase();

/**
 * lower() in SQL first (SQLite's is ASCII-only, PostgreSQL's follows the database locale), then
 * every row whose JavaScript lower-casing differs is corrected: the key must be what the store
 * computes. Two users whose usernames differ only in case stop the migration with their names:
 * which one keeps it is a human decision.
 */
async function backfillUsernameLower(
  db: Kysely<{ users: { id: string; username: string; username_lower: string | null } }>,
): Promise<void> {
  await db.updateTable('users').set({ username_lower: sql`lower(username)` }).execute();
  const seen = new Map<string, string>();
  const clashes: string[] = [];
  const pageSize = 5000;
  for (let after = ''; ; ) {
    const rows = await db
      .selectFrom('users')
      .select(['id', 'username', 'username_lower'])
      .where('id', '>', after)
      .orderBy('id')
      .limit(pageSize)
      .execute();
    for (const row of rows) {
      const key = usernameKey(row.username);
      if (row.username_lower !== key) await db.updateTable('users').set({ username_lower: key }).where('id', '=', row.id).execute();
      const other = seen.get(key);
      if (other !== undefined) clashes.push(`"${other}" and "${row.username}"`);
      else seen.set(key, row.username);
    }
    if (rows.length < pageSize) break;
    after = (rows.at(-1) as { id: string }).id;
  }
  if (clashes.length > 0) {
    throw new Error(
      `users: some usernames differ only in letter case, so the case-insensitive unique index cannot be built. ` +
        `Rename one of each pair, then restart: ${clashes.slice(0, 20).join('; ')}`,
    );
  }
}

export function migrationProvider(dialect: SqlDialect): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}
