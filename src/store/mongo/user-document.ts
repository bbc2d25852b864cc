/**
 * The MongoDB edge: a user as the old Python service stored it, and the conversions to and from
 * the domain type. Pure functions, so they are tested without a server.
 */
import { type Filter, ObjectId } from 'mongodb';
import { type NewUser, type RevokedSession, ROLES, type Role, USER_DEFAULTS, type User, type UserPatch } from '../store.js';

/**
 * The old service's layout in collection `users`, field for field, so this service and the old
 * one can read the same database. Fields are optional where old documents may lack them.
 */
export interface UserDocument {
  _id: ObjectId;
  username: string;
  email: string;
  /** lower(email): the case-insensitive unique key. New; old documents get it in migrate(). */
  email_lower?: string;
  /** lower(username), likewise: usernames are unique regardless of case. */
  username_lower?: string;
  /** The password hash (the old name is kept: the old service reads it too). */
  password: string;
  full_name?: string | null;
  role: string;
  /** A BSON Date; the old service wrote naive UTC datetimes, which BSON stores as UTC. */
  created_at: Date | string;
  qr_code?: string | null;
  // The auth fields below are new: the old service never wrote them, so every one is optional
  // and docToUser reads a missing one as its USER_DEFAULTS value.
  qr_issued_at?: Date | null;
  disabled?: boolean;
  email_verified?: boolean;
  token_version?: number;
  totp_secret?: string | null;
  totp_enabled?: boolean;
  totp_last_step?: number;
  /** Sessions whose access tokens are refused before they expire (see User.revokedSessions). */
  revoked_sessions?: { session_id: string; until: Date }[];
  /** Written before attempts were counted in login_throttles; no longer read. */
  failed_logins?: number;
  locked_until?: Date | null;
}

/** The stores' case-insensitive username key (the same as the SQL stores'). */
export const usernameKey = (username: string) => username.toLowerCase();

const HEX_ID = /^[0-9a-fA-F]{24}$/;

/** The ObjectId for a domain id, or null for anything that is not one (never throws). */
export function toObjectId(id: string): ObjectId | null {
  return HEX_ID.test(id) ? ObjectId.createFromHexString(id) : null;
}

export function docToUser(doc: UserDocument): User {
  return {
    id: doc._id.toHexString(),
    username: doc.username,
    email: doc.email,
    // A document without a hash (hand-edited) can never log in: no known format verifies ''.
    passwordHash: typeof doc.password === 'string' ? doc.password : '',
    fullName: doc.full_name ?? null,
    role: toRole(doc.role),
    createdAt: toDate(doc.created_at),
    qrCode: doc.qr_code ?? null,
    qrIssuedAt: dateOrNull(doc.qr_issued_at),
    disabled: doc.disabled ?? USER_DEFAULTS.disabled,
    emailVerified: doc.email_verified ?? USER_DEFAULTS.emailVerified,
    tokenVersion: numberOr(doc.token_version, USER_DEFAULTS.tokenVersion),
    totpSecret: doc.totp_secret ?? USER_DEFAULTS.totpSecret,
    totpEnabled: doc.totp_enabled ?? USER_DEFAULTS.totpEnabled,
    totpLastStep: numberOr(doc.totp_last_step, USER_DEFAULTS.totpLastStep),
    revokedSessions: revokedOf(doc.revoked_sessions),
  };
}

export function userToDoc(input: NewUser): UserDocument {
  // An explicit `undefined` in the input must not become a stored null: $inc cannot count from
  // null, and a null totp_last_step would match neither branch of claimTotpStep's filter.
  const given = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as NewUser;
  const user = { ...USER_DEFAULTS, ...given };
  const _id = toObjectId(user.id);
  if (_id === null) throw new TypeError(`not an ObjectId-form id: ${JSON.stringify(user.id)}`);
  return {
    _id,
    username: user.username,
    username_lower: usernameKey(user.username),
    email: user.email,
    email_lower: user.email.toLowerCase(),
    password: user.passwordHash,
    full_name: user.fullName,
    role: user.role,
    created_at: user.createdAt,
    qr_code: user.qrCode ?? null,
    qr_issued_at: user.qrIssuedAt,
    disabled: user.disabled,
    email_verified: user.emailVerified,
    token_version: user.tokenVersion,
    totp_secret: user.totpSecret,
    totp_enabled: user.totpEnabled,
    totp_last_step: user.totpLastStep,
    ...(user.revokedSessions.length > 0
      ? { revoked_sessions: user.revokedSessions.map((e) => ({ session_id: e.sessionId, until: e.until })) }
      : {}),
  };
}

/** The `$set` for a patch: email_lower follows email, so uniqueness stays case-insensitive. */
export function patchToSet(patch: UserPatch): Partial<UserDocument> {
  const set: Partial<UserDocument> = {};
  if (patch.username !== undefined) {
    set.username = patch.username;
    set.username_lower = usernameKey(patch.username);
  }
  if (patch.email !== undefined) {
    set.email = patch.email;
    set.email_lower = patch.email.toLowerCase();
  }
  if (patch.passwordHash !== undefined) set.password = patch.passwordHash;
  if (patch.fullName !== undefined) set.full_name = patch.fullName;
  if (patch.role !== undefined) set.role = patch.role;
  if (patch.qrCode !== undefined) set.qr_code = patch.qrCode;
  if (patch.qrIssuedAt !== undefined) set.qr_issued_at = patch.qrIssuedAt;
  if (patch.disabled !== undefined) set.disabled = patch.disabled;
  if (patch.emailVerified !== undefined) set.email_verified = patch.emailVerified;
  if (patch.totpSecret !== undefined) set.totp_secret = patch.totpSecret;
  if (patch.totpEnabled !== undefined) set.totp_enabled = patch.totpEnabled;
  if (patch.totpLastStep !== undefined) set.totp_last_step = patch.totpLastStep;
  return set;
}

/** Makes every character of `text` match itself literally inside a RegExp. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Case-insensitive prefix on the email or the username, as the SQL stores do it. The email side
 * is an anchored, case-sensitive regex on email_lower, which MongoDB answers from the index;
 * anchoring and escaping keep a user's input from becoming a pattern (or a slow one).
 */
export function prefixFilter(prefix: string): Filter<UserDocument> {
  const escaped = escapeRegExp(prefix.toLowerCase());
  return {
    $or: [
      { email_lower: { $regex: new RegExp(`^${escaped}`) } },
      { username_lower: { $regex: new RegExp(`^${escaped}`) } },
      // A document the old service wrote after our last start-up has no username_lower yet.
      { username_lower: { $exists: false }, username: { $regex: new RegExp(`^${escaped}`, 'i') } },
    ],
  };
}

function toRole(raw: unknown): Role {
  // The old service validated roles; a hand-edited document with anything else gets the least
  // privilege rather than breaking every page of the user list it appears on.
  return (ROLES as readonly unknown[]).includes(raw) ? (raw as Role) : 'student';
}

function toDate(raw: Date | string): Date {
  if (raw instanceof Date) return raw;
  // A string would be the old service's naive UTC ISO form ("2025-11-14T06:27:19.247455").
  return new Date(/(?:Z|[+-]\d\d:?\d\d)$/.test(raw) ? raw : `${raw}Z`);
}

function dateOrNull(raw: Date | string | null | undefined): Date | null {
  return raw === null || raw === undefined ? null : toDate(raw);
}

function revokedOf(raw: unknown): RevokedSession[] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((e: { session_id?: unknown; until?: unknown }) =>
    typeof e?.session_id === 'string' && e.until instanceof Date ? [{ sessionId: e.session_id, until: e.until }] : [],
  );
}

/** A counter as a number: the driver hands back int32, double or (promoted) int64 alike. */
function numberOr(raw: unknown, fallback: number): number {
  if (raw === null || raw === undefined) return fallback;
  const value = Number(raw);
  return Number.isFinite(value) ? value : fallback;
}
