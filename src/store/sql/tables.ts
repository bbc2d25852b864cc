/** Kysely table types for the SQL stores (SQLite and PostgreSQL share one schema). */
import type { Generated } from 'kysely';

export interface UsersTable {
  id: string;
  username: string;
  email: string;
  /** lower(email), the unique key: emails compare case-insensitively. */
  email_lower: string;
  password_hash: string;
  full_name: string | null;
  role: string;
  /** ISO-8601 text on SQLite, timestamptz on PostgreSQL. */
  created_at: string | Date;
  qr_code: string | null;
  row_version: Generated<number>;
}

export interface Tables {
  users: UsersTable;
}
