/**
 * The Store: the one port between the service and its database.
 *
 * Small on purpose: every implementation (SQLite, PostgreSQL, MongoDB) converts rows or
 * documents to these domain types at its own edge and passes test/store/contract.ts.
 * Not found is `null`; a unique violation is a `Conflict`; an unreachable database is a
 * `StoreUnavailable`. Rules (who may do what, hashing, validation) live in the services.
 */
import type { AttendanceStore } from './attendance-store.js';

import type { PasskeyStore } from './passkey-store.js';

export type { Passkey, PasskeyDeleteResult, PasskeyDeviceType, PasskeyStore } from './passkey-store.js';

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
  /**
   * Sessions ended (logout, revoked, refresh-token reuse) while their access tokens may still be
   * alive, each with the moment the last of those tokens expires. Read with the user on every
   * request, so a logged-out session's access token is refused at once on every instance without
   * a read of its own. Entries past `until` mean nothing and are dropped on the next write.
   */
  revokedSessions: RevokedSession[];
}

export interface RevokedSession {
  sessionId: string;
  /** Access tokens of the session live no longer than this. */
  until: Date;
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
  revokedSessions: [],
} as const satisfies Partial<User>;

/** What updateUser changes; the token version and the revoked sessions have atomic methods of their own. */
export type UserPatch = Partial<Omit<User, 'id' | 'createdAt' | 'tokenVersion' | 'revokedSessions'>>;

/**
 * How a session is held: `api` by a client with a refresh token (and access tokens), `browser` by
 * the web front's HttpOnly cookie (opaque, never readable by script). One never passes for the other.
 */
export type SessionKind = 'api' | 'browser';

/** A signed-in device: one refresh-token family, or one browser cookie. */
export interface Session {
  id: string;
  userId: string;
  kind: SessionKind;
  createdAt: Date;
  lastUsedAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  userAgent: string | null;
  ip: string | null;
}

/** One refresh token of a session (or a browser session's cookie), stored only as a hash; single use for `api`. */
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
  | 'qr_login_approved'
  | 'attendance_ticket'
  | 'passkey_registration'
  | 'passkey_authentication';

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
  /** Records use of a session (its last_used_at), without touching its tokens. */
  touch(sessionId: string, now: Date): Promise<void>;
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

/**
 * Counters of failed attempts at a secret (a password, a TOTP code), each under a key: one key per
 * account and source, one per account (see auth/login/login-throttle.ts). `subject` groups the keys of
 * one account, so a password reset can lift all of its locks at once.
 */
export interface ThrottlePolicy {
  /** Attempts before the key locks. */
  threshold: number;
  /** The first lock lasts 1 s, each later one twice the last, at most this long. */
  maxLockSeconds: number;
}

export type ThrottleClaim = { allowed: true; failures: number } | { allowed: false; retryAfterSeconds: number };

export interface ThrottleStore {
  /**
   * Atomically: refuses while the key is locked; otherwise counts one more attempt (it is counted
   * before it runs, so that concurrent attempts cannot all pass one check) and, from `threshold`
   * attempts on, locks the key for the next, longer time. Of N concurrent claims on a fresh key,
   * exactly `threshold` are allowed until the first lock ends.
   */
  claim(key: string, subject: string, policy: ThrottlePolicy, now: Date): Promise<ThrottleClaim>;
  /**
   * Takes back one allowed claim that turned out right without completing a sign-in (a correct
   * password with a second factor still to come): the count and the lock as they were before it.
   * A claim is allowed only while the key is unlocked, so that means one attempt fewer, not locked,
   * and the last lock's length halved back (the next failure locks as long as it would have).
   */
  refund(key: string, policy: ThrottlePolicy): Promise<void>;
  /** Forgets these keys (a success: their counts start again). */
  clear(keys: string[]): Promise<void>;
  /** Forgets every key of a subject (a password reset lifts all of an account's locks). */
  clearSubject(subject: string): Promise<void>;
}

/**
 * What the periodic purge removes (maintenance/purger.ts), each kind past its `cutoff`:
 * - `one_time_tokens`: expired (reset and verification links, login challenges, QR sign-ins);
 * - `sessions`: ended (revoked or expired) before the cutoff, with their refresh tokens;
 * - `used_refresh_tokens`: refresh tokens used before the cutoff (kept a while for reuse detection);
 * - `audit_events`: recorded before the cutoff (the retention);
 * - `throttles`: attempt counters last touched before the cutoff (their locks long over).
 */
export type PurgeKind = 'one_time_tokens' | 'sessions' | 'used_refresh_tokens' | 'audit_events' | 'throttles';

export interface PurgeStore {
  /**
   * Deletes at most `limit` rows of `kind` past `cutoff`, in one short statement (never one long
   * transaction); returns how many. Safe to run on many instances at once: deletes are idempotent.
   */
  purge(kind: PurgeKind, cutoff: Date, limit: number): Promise<number>;
}

/**
 * What the OpenID Connect provider keeps (oidc/oidc-adapter.ts): its sessions, grants,
 * authorization codes, tokens, interactions and our registered clients, one record a
 * (model, id). `payload` is the provider's JSON, stored as given; the keys beside it are the
 * lookups the provider asks for. Expired records are never returned.
 */
export interface OidcRecord {
  model: string;
  id: string;
  payload: string;
  grantId: string | null;
  userCode: string | null;
  uid: string | null;
  /** null: never expires (a client). */
  expiresAt: Date | null;
  /** Set once a single-use record (an authorization code) was used. */
  consumedAt: Date | null;
}

export interface OidcStore {
  /** Inserts or replaces the record of (model, id); a replaced record is no longer consumed. */
  upsert(record: Omit<OidcRecord, 'consumedAt'>): Promise<void>;
  find(model: string, id: string, now: Date): Promise<OidcRecord | null>;
  findByUid(model: string, uid: string, now: Date): Promise<OidcRecord | null>;
  findByUserCode(model: string, userCode: string, now: Date): Promise<OidcRecord | null>;
  /** Marks the record used (first time only); false when it was missing or already used. */
  consume(model: string, id: string, now: Date): Promise<boolean>;
  destroy(model: string, id: string): Promise<void>;
  /** Deletes every record of a grant (its codes, tokens, the grant): how "revoke" is done. */
  revokeByGrantId(grantId: string): Promise<number>;
  /** Live records of one model, by id ascending (the registered clients, for admins). */
  list(model: string, now: Date, limit: number): Promise<OidcRecord[]>;
  /** Deletes at most `limit` records that expired before `cutoff` (the periodic purge); returns how many. */
  purgeExpired(cutoff: Date, limit: number): Promise<number>;
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
  /** Usernames compare case-insensitively (they are unique so); the caller normalizes (NFKC) first. */
  findUserByUsername(username: string): Promise<User | null>;
  /** Users ordered by id ascending (keyset paging). */
  listUsers(query: ListUsersQuery): Promise<User[]>;
  countUsers(filter?: { role?: Role }): Promise<number>;
  /**
   * With `keepEnabledAdmin`, atomically refuses (LastAdmin) a change that would leave no enabled
   * admin: of two admins demoting or disabling each other at the same moment, one wins.
   */
  updateUser(id: string, patch: UserPatch, options?: AdminGuard): Promise<User | null>;
  /** Deletes the user and everything that belongs to them; false when there was no such user. */
  deleteUser(id: string, options?: AdminGuard): Promise<boolean>;
  /**
   * Atomically increments the user's token version and empties their revoked sessions (every token
   * issued before is refused by its version now); returns the new version, or null.
   */
  bumpTokenVersion(id: string): Promise<number | null>;
  /**
   * Atomically adds a session to the user's revoked sessions, dropping entries whose `until` has
   * passed at `now`; returns how many entries the list holds now, or null for an unknown user.
   */
  addRevokedSession(userId: string, entry: RevokedSession, now: Date): Promise<number | null>;
  /** Whether any user still has a password hash of the old service (bcrypt). */
  hasLegacyPasswordHashes(): Promise<boolean>;
  /** Atomically records a TOTP step if it is newer than the last one; false for a replay. */
  claimTotpStep(id: string, step: number): Promise<boolean>;
  readonly sessions: SessionStore;
  readonly oneTimeTokens: OneTimeTokenStore;
  /** Audit events outlive the user they are about: deleting a user keeps them. */
  readonly audit: AuditStore;
  readonly throttles: ThrottleStore;
  readonly purge: PurgeStore;
  /** Courses, rosters, sessions and check-ins (attendance-store.ts). */
  readonly attendance: AttendanceStore
  /** WebAuthn credentials (store/passkey-store.ts); deleting a user deletes theirs. */
  readonly passkeys: PasskeyStore;
  /** The OpenID Connect provider's records (oidc/). */
  readonly oidc: OidcStore;
  /** Resolves when the database answers; rejects with StoreUnavailable otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface AdminGuard {
  /** The write happens only if at least one enabled admin remains after it (else LastAdmin). */
  keepEnabledAdmin?: boolean;
}

/** The write would have left no enabled admin (see AdminGuard); nothing was changed. */
export class LastAdmin extends Error {
  constructor() {
    super('the last enabled admin cannot be demoted, disabled or deleted');
    this.name = 'LastAdmin';
  }
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
