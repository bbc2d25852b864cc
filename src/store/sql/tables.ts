/**
 * Kysely table types for the SQL stores (SQLite and PostgreSQL share one schema). Timestamps
 * are ISO-8601 text on SQLite and timestamptz on PostgreSQL; booleans are 0/1 integers on SQLite
 * and booleans on PostgreSQL: SqlDriverParts encodes both at the edge.
 */
import type { Generated } from 'kysely';

type Timestamp = string | Date;
type Flag = number | boolean;

export interface UsersTable {
  id: string;
  username: string;
  email: string;
  /** lower(email), the unique key: emails compare case-insensitively. */
  email_lower: string;
  password_hash: string;
  full_name: string | null;
  role: string;
  created_at: Timestamp;
  qr_code: string | null;
  row_version: Generated<number>;
  qr_issued_at: Timestamp | null;
  disabled: Flag;
  email_verified: Flag;
  token_version: number;
  totp_secret: string | null;
  totp_enabled: Flag;
  totp_last_step: number;
  /** Unused since migration 0003 (attempts are counted in login_throttles). */
  failed_logins: number;
  /** Unused since migration 0003. */
  locked_until: Timestamp | null;
  /** lower(username) in JavaScript's sense, the unique key: usernames compare case-insensitively. */
  username_lower: string | null;
  /** JSON `[[sessionId, untilMs], …]`, or null for none (see User.revokedSessions). */
  revoked_sessions: string | null;
}

export interface LoginThrottlesTable {
  key: string;
  subject: string;
  failures: number;
  lock_seconds: number;
  locked_until_ms: number | string;
  updated_at_ms: number | string;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  /** 'api' or 'browser' (SessionKind). */
  kind: string;
  created_at: Timestamp;
  last_used_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
  user_agent: string | null;
  ip: string | null;
}

export interface RefreshTokensTable {
  hash: string;
  session_id: string;
  created_at: Timestamp;
  used_at: Timestamp | null;
}

export interface OneTimeTokensTable {
  hash: string;
  purpose: string;
  user_id: string | null;
  created_at: Timestamp;
  expires_at: Timestamp | null;
  data: string | null;
}

export interface AuditEventsTable {
  id: string;
  at: Timestamp;
  type: string;
  user_id: string | null;
  actor_id: string | null;
  ip: string | null;
  user_agent: string | null;
  detail: string | null;
}

export interface PasskeysTable {
  id: string;
  user_id: string;
  public_key: string;
  counter: number | string;
  /** JSON array of strings. */
  transports: string;
  device_type: string;
  backed_up: Flag;
  backup_eligible: Flag;
  aaguid: string;
  name: string;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
}

/** The OpenID Connect provider's records (migration 0008_oidc, sql-oidc-store.ts). */
export interface OidcModelsTable {
  model: string;
  id: string;
  payload: string;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  expires_at: Timestamp | null;
  consumed_at: Timestamp | null;
}

export interface Tables {
  users: UsersTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  one_time_tokens: OneTimeTokensTable;
  audit_events: AuditEventsTable;
  login_throttles: LoginThrottlesTable;
  passkeys: PasskeysTable;
  oidc_models: OidcModelsTable;
}
