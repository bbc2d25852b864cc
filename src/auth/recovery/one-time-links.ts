/**
 * What the reset and verification tokens share: 32 random bytes, base64url, mailed to the user and
 * stored only as their SHA-256 with the address they were sent to. A token whose address is no
 * longer the user's proves nothing about the current one.
 */
import { randomBytes } from 'node:crypto';
import type { OneTimePurpose, OneTimeToken, Store, User } from '../../store/store.js';
import { hashToken } from '../sessions/session-service.js';

/** The shape of a token we issued: anything else is refused without a database look-up. */
export const LINK_TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

/** Replaces the user's earlier tokens of this purpose (only the latest mail works) and returns the new one. */
export async function issueLinkToken(store: Store, user: User, purpose: OneTimePurpose, ttlSeconds: number): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  const now = new Date();
  await store.oneTimeTokens.deleteForUser(user.id, purpose);
  await store.oneTimeTokens.insert({
    hash: hashToken(token),
    purpose,
    userId: user.id,
    createdAt: now,
    expiresAt: new Date(now.getTime() + ttlSeconds * 1000),
    data: JSON.stringify({ email: user.email }),
  });
  return token;
}

/** Whether the token was mailed to the user's current address (emails compare case-insensitively). */
export function sentToCurrentEmail(token: OneTimeToken, user: User): boolean {
  let email: unknown;
  try {
    email = (JSON.parse(token.data ?? 'null') as { email?: unknown } | null)?.email;
  } catch {
    return false;
  }
  return typeof email === 'string' && email.toLowerCase() === user.email.toLowerCase();
}
