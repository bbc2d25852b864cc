/**
 * The Store: the one port between the service and its database.
 *
 * Small on purpose: every implementation (SQLite, PostgreSQL, MongoDB) converts rows or
 * documents to these domain types at its own edge and passes test/store/contract.ts.
 * Not found is `null`; a unique violation is a `Conflict`; an unreachable database is a
 * `StoreUnavailable`. Rules (who may do what, hashing, validation) live in the services.
 */

export const ROLES = ['student', 'teacher', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface User {
  /** 24 lowercase hex characters, ObjectId form (see users/ids.ts). */
  id: string;
  username: string;
  /** Stored as given; unique and looked up case-insensitively. */
  email: string;
  /** argon2id PHC string, or a legacy bcrypt hash from the old service until the next login. */
  passwordHash: string;
  fullName: string | null;
  role: Role;
  createdAt: Date;
  /** Base64 PNG of the user's last generated QR code, as the old service stored it. */
  qrCode: string | null;
  /** When the current QR badge was issued: an older badge is superseded. */
  qrIssuedAt: Date | null;
  /** Disabled users cannot log in, refresh, or use their tokens. */
  disabled: boolean;
  emailVerified: boolean;
  /**
   * Bumped by logout-all, password change, role change, disabling: access tokens carry the
   * version they were issued under, and an older one is refused at once.
   */
  tokenVersion: number;
  /** Base32 TOTP secret: set at setup, in force once `totpEnabled`. */
  totpSecret: string | null;
  totpEnabled: boolean;
  /** The last TOTP time step accepted: a code is never accepted twice. */
  totpLastStep: number;
  /** Consecutive failed logins, and the lock they earned (exponential, capped). */
  failedLogins: number;
  lockedUntil: Date | null;
}

/** The fields a new user must have; the rest start at their defaults. */
export type NewUser = Pick<User, 'id' | 'username' | 'email' | 'passwordHash' | 'fullName' | 'role' | 'createdAt'> &
  Partial<Omit<User, 'id' | 'username' | 'email' | 'passwordHash' | 'fullName' | 'role' | 'createdAt'>>;

export const USER_DEFAULTS = {
  qrCode: null,
  qrIssuedAt: null,
  disabled: false,
  emailVerified: false,
  tokenVersion: 0,
  totpSecret: null,
  totpEnabled: false,
  totpLastStep: 0,
  failedLogins: 0,
  lockedUntil: null,
} as const satisfies Partial<User>;

export type UserPatch = Partial<Omit<User, 'id' | 'createdAt' | 'tokenVersion'>>;

/** A signed-in device: one refresh-token family. */
export interface Session {
  id: string;
  userId: string;
  createdAt: Date;
  lastUsedAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  userAgent: string | null;
  ip: string | null;
}

/** One refresh token of a session, stored only as a hash; single use. */
export interface RefreshToken {
  hash: string;
  sessionId: string;
  createdAt: Date;
  usedAt: Date | null;
}

export type OneTimePurpose =
  | 'password_reset'
  | 'email_verify'
  | 'mfa'
  | 'recovery'
  | 'qr_login'
  | 'qr_login_approved';

/** A single-use token (reset link, email check, MFA step, recovery code), stored as a hash. */
export interface OneTimeToken {
  hash: string;
  purpose: OneTimePurpose;
  userId: string | null;
  createdAt: Date;
  /** null: never expires (recovery codes). */
  expiresAt: Date | null;
  /** Purpose-specific JSON (e.g. the email being verified). */
  data: string | null;
}

export interface AuditEvent {
  id: string;
  at: Date;
  type: string;
  /** The user the event is about. */
  userId: string | null;
  /** Who did it, when not the user themselves (an admin). */
  actorId: string | null;
  ip: string | null;
  userAgent: string | null;
  /** JSON with event-specific detail; never a secret. */
  detail: string | null;
}

export interface SessionStore {
  /** Creates the session with its first refresh token. */
  create(session: Session, firstTokenHash: string): Promise<void>;
  findByTokenHash(hash: string): Promise<{ token: RefreshToken; session: Session } | null>;
  /**
   * Atomically marks `oldHash` used and adds `newHash` to the same session (touching lastUsedAt).
   * False when `oldHash` was already used: the caller treats that as theft.
   */
  rotate(oldHash: string, newHash: string, now: Date): Promise<boolean>;
  /** Revokes one session; false when it does not exist or was revoked already. */
  revoke(sessionId: string, now: Date): Promise<boolean>;
  /** Revokes every live session of a user; returns how many. */
  revokeAllOfUser(userId: string, now: Date): Promise<number>;
  /** Live (not revoked, not expired) sessions, newest first. */
  listActive(userId: string, now: Date): Promise<Session[]>;
}

export interface OneTimeTokenStore {
  insert(token: OneTimeToken): Promise<void>;
  /** Atomically deletes and returns the token if it exists, has this purpose and has not expired. */
  consume(hash: string, purpose: OneTimePurpose, now: Date): Promise<OneTimeToken | null>;
  /** Reads the token without using it up (null when missing, of another purpose, or expired). */
  find(hash: string, purpose: OneTimePurpose, now: Date): Promise<OneTimeToken | null>;
  /** Deletes a user's tokens of one purpose (older reset links, replaced recovery codes). */
  deleteForUser(userId: string, purpose: OneTimePurpose): Promise<number>;
  countForUser(userId: string, purpose: OneTimePurpose): Promise<number>;
}

export interface AuditStore {
  insert(event: AuditEvent): Promise<void>;
  /** Newest first; keyset paging with `before` (an event id). */
  list(query: { limit: number; before?: string; userId?: string; type?: string }): Promise<AuditEvent[]>;
}

export interface ListUsersQuery {
  /** Page size, already bounded by the caller. */
  limit: number;
  /** Keyset cursor: return users whose id sorts after this one. */
  after?: string;
  role?: Role;
  /** Case-insensitive prefix of the email or of the username; LIKE wildcards match literally. */
  prefix?: string;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres' | 'mongodb';
  /** Applies migrations / creates indexes. Idempotent; called once at start-up. */
  migrate(): Promise<void>;
  insertUser(user: NewUser): Promise<User>;
  findUserById(id: string): Promise<User | null>;
  findUserByEmail(email: string): Promise<User | null>;
  findUserByUsername(username: string): Promise<User | null>;
  /** Users ordered by id ascending (keyset paging). */
  listUsers(query: ListUsersQuery): Promise<User[]>;
  countUsers(filter?: { role?: Role }): Promise<number>;
  updateUser(id: string, patch: UserPatch): Promise<User | null>;
  /** Deletes the user and everything that belongs to them; false when there was no such user. */
  deleteUser(id: string): Promise<boolean>;
  /** Atomically increments the user's token version; returns the new one, or null. */
  bumpTokenVersion(id: string): Promise<number | null>;
  /** Atomically counts one more failed login; returns the new count, or null. */
  incrementFailedLogins(id: string): Promise<number | null>;
  /** Atomically records a TOTP step if it is newer than the last one; false for a replay. */
  claimTotpStep(id: string, step: number): Promise<boolean>;
  readonly sessions: SessionStore;
  readonly oneTimeTokens: OneTimeTokenStore;
  /** Audit events outlive the user they are about: deleting a user keeps them. */
  readonly audit: AuditStore;
  /** Resolves when the database answers; rejects with StoreUnavailable otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A unique constraint was violated. `field` names which one, when the database tells. */
export class Conflict extends Error {
  constructor(readonly field: 'email' | 'username' | 'id' | 'unknown') {
    super(`unique constraint violated: ${field}`);
    this.name = 'Conflict';
  }
}

/** The database could not be reached or did not answer in time. */
export class StoreUnavailable extends Error {
  constructor(message = 'database unavailable', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailable';
  }
}
