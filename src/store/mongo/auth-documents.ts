/**
 * The MongoDB edge for the auth data: sessions, refresh tokens, single-use tokens and audit
 * events as documents, and the conversions to and from the domain types. Pure functions, so
 * they are tested without a server.
 */
import { ObjectId } from 'mongodb';
import type { AuditEvent, OneTimePurpose, OneTimeToken, RefreshToken, Session } from '../store.js';
import { toObjectId } from './user-document.js';

/**
 * A reference to a user, session or event: an ObjectId, as `users._id` is, whenever the id has
 * that form (all ids this service issues do), else the string itself, so an odd id is stored and
 * found as given instead of throwing or being lost.
 */
export type IdKey = ObjectId | string;

export function toKey(id: string): IdKey {
  return toObjectId(id) ?? id;
}

export function toKeyOrNull(id: string | null): IdKey | null {
  return id === null ? null : toKey(id);
}

export function fromKey(key: IdKey): string {
  return key instanceof ObjectId ? key.toHexString() : key;
}

export function fromKeyOrNull(key: IdKey | null | undefined): string | null {
  return key === null || key === undefined ? null : fromKey(key);
}

export interface SessionDocument {
  _id: IdKey;
  user_id: IdKey;
  /** 'browser' for the web front's cookie sessions; missing (older documents) or 'api' otherwise. */
  kind?: string;
  created_at: Date;
  last_used_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  user_agent: string | null;
  ip: string | null;
}

/** Keyed by the token's hash: the unique index comes with `_id`. */
export interface RefreshTokenDocument {
  _id: string;
  session_id: IdKey;
  /** The session's user, so deleting a user removes their tokens with one indexed delete. */
  user_id: IdKey;
  created_at: Date;
  used_at: Date | null;
}

export interface OneTimeTokenDocument {
  _id: string;
  purpose: string;
  user_id: IdKey | null;
  created_at: Date;
  expires_at: Date | null;
  data: string | null;
}

export interface AuditEventDocument {
  _id: IdKey;
  at: Date;
  type: string;
  user_id: IdKey | null;
  actor_id: IdKey | null;
  ip: string | null;
  user_agent: string | null;
  detail: string | null;
}

export function sessionToDoc(session: Session): SessionDocument {
  return {
    _id: toKey(session.id),
    user_id: toKey(session.userId),
    kind: session.kind,
    created_at: session.createdAt,
    last_used_at: session.lastUsedAt,
    expires_at: session.expiresAt,
    revoked_at: session.revokedAt,
    user_agent: session.userAgent,
    ip: session.ip,
  };
}

export function docToSession(doc: SessionDocument): Session {
  return {
    id: fromKey(doc._id),
    userId: fromKey(doc.user_id),
    kind: doc.kind === 'browser' ? 'browser' : 'api',
    createdAt: doc.created_at,
    lastUsedAt: doc.last_used_at,
    expiresAt: doc.expires_at,
    revokedAt: doc.revoked_at ?? null,
    userAgent: doc.user_agent ?? null,
    ip: doc.ip ?? null,
  };
}

export function docToRefreshToken(doc: RefreshTokenDocument): RefreshToken {
  return {
    hash: doc._id,
    sessionId: fromKey(doc.session_id),
    createdAt: doc.created_at,
    usedAt: doc.used_at ?? null,
  };
}

export function oneTimeTokenToDoc(token: OneTimeToken): OneTimeTokenDocument {
  return {
    _id: token.hash,
    purpose: token.purpose,
    user_id: toKeyOrNull(token.userId),
    created_at: token.createdAt,
    expires_at: token.expiresAt,
    data: token.data,
  };
}

export function docToOneTimeToken(doc: OneTimeTokenDocument): OneTimeToken {
  return {
    hash: doc._id,
    purpose: doc.purpose as OneTimePurpose,
    userId: fromKeyOrNull(doc.user_id),
    createdAt: doc.created_at,
    expiresAt: doc.expires_at ?? null,
    data: doc.data ?? null,
  };
}

export function auditEventToDoc(event: AuditEvent): AuditEventDocument {
  return {
    _id: toKey(event.id),
    at: event.at,
    type: event.type,
    user_id: toKeyOrNull(event.userId),
    actor_id: toKeyOrNull(event.actorId),
    ip: event.ip,
    user_agent: event.userAgent,
    detail: event.detail,
  };
}

export function docToAuditEvent(doc: AuditEventDocument): AuditEvent {
  return {
    id: fromKey(doc._id),
    at: doc.at,
    type: doc.type,
    userId: fromKeyOrNull(doc.user_id),
    actorId: fromKeyOrNull(doc.actor_id),
    ip: doc.ip ?? null,
    userAgent: doc.user_agent ?? null,
    detail: doc.detail ?? null,
  };
}
