/**
 * The MongoDB edge: a user as the old Python service stored it, and the conversions to and from
 * the domain type. Pure functions, so they are tested without a server.
 */
import { type Filter, ObjectId } from 'mongodb';
import { type NewUser, ROLES, type Role, type User, type UserPatch } from '../store.js';

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
  /** The password hash (the old name is kept: the old service reads it too). */
  password: string;
  full_name?: string | null;
  role: string;
  /** A BSON Date; the old service wrote naive UTC datetimes, which BSON stores as UTC. */
  created_at: Date | string;
  qr_code?: string | null;
}

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
  };
}

export function userToDoc(user: NewUser): UserDocument {
  const _id = toObjectId(user.id);
  if (_id === null) throw new TypeError(`not an ObjectId-form id: ${JSON.stringify(user.id)}`);
  return {
    _id,
    username: user.username,
    email: user.email,
    email_lower: user.email.toLowerCase(),
    password: user.passwordHash,
    full_name: user.fullName,
    role: user.role,
    created_at: user.createdAt,
    qr_code: user.qrCode ?? null,
  };
}

/** The `$set` for a patch: email_lower follows email, so uniqueness stays case-insensitive. */
export function patchToSet(patch: UserPatch): Partial<UserDocument> {
  const set: Partial<UserDocument> = {};
  if (patch.username !== undefined) set.username = patch.username;
  if (patch.email !== undefined) {
    set.email = patch.email;
    set.email_lower = patch.email.toLowerCase();
  }
  if (patch.passwordHash !== undefined) set.password = patch.passwordHash;
  if (patch.fullName !== undefined) set.full_name = patch.fullName;
  if (patch.role !== undefined) set.role = patch.role;
  if (patch.qrCode !== undefined) set.qr_code = patch.qrCode;
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
      { username: { $regex: new RegExp(`^${escaped}`, 'i') } },
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
