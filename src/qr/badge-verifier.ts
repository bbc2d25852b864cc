/**
 * Checking a badge: first what the badge itself proves (format, a key of ours, the signature, the
 * expiry), then — online — whether it is still the user's current badge: the user exists and is
 * enabled, it was not superseded by a newer POST /qr/generate, and the role and email in it are
 * still the user's. Claims are only echoed once the signature holds: an unsigned or forged badge
 * reveals nothing about anyone.
 */
import type { SigningKey } from '../auth/tokens/keys.js';
import type { Role, User } from '../store/store.js';
import { parseBadge, signatureMatches } from './badge.js';

export type BadgeInvalidReason =
  | 'malformed'
  | 'unsigned'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'user_not_found'
  | 'user_disabled'
  | 'superseded'
  | 'role_changed'
  | 'email_changed';

export interface BadgeVerdict {
  valid: boolean;
  reason?: BadgeInvalidReason;
  user_id: string | null;
  username: string | null;
  /** The role the badge states. */
  role: Role | null;
  issued_at: string | null;
  expires_at: string | null;
}

export interface BadgeVerifier {
  verify(data: string): Promise<BadgeVerdict>;
}

const NOTHING = { user_id: null, username: null, role: null, issued_at: null, expires_at: null };

export function createBadgeVerifier(deps: {
  /** Every key that may have signed a badge, by kid (the token keys: rotation keeps old ones). */
  verifying: ReadonlyMap<string, SigningKey>;
  users: { findById(id: string): Promise<User | null> };
  now?: () => number;
}): BadgeVerifier {
  const now = deps.now ?? Date.now;
  return {
    async verify(data) {
      const parsed = parseBadge(data);
      if (parsed.kind !== 'signed') return { valid: false, reason: parsed.kind, ...NOTHING };
      const key = deps.verifying.get(parsed.claims.kid);
      if (key === undefined) return { valid: false, reason: 'unknown_key', ...NOTHING };
      if (!signatureMatches(parsed, key.publicKey)) return { valid: false, reason: 'bad_signature', ...NOTHING };

      const { claims } = parsed;
      const user = await deps.users.findById(claims.userId);
      const verdict = (reason?: BadgeInvalidReason): BadgeVerdict => ({
        valid: reason === undefined,
        ...(reason === undefined ? {} : { reason }),
        user_id: claims.userId,
        username: user?.username ?? null,
        role: claims.role,
        issued_at: new Date(claims.issuedAt * 1000).toISOString(),
        expires_at: new Date(claims.expiresAt * 1000).toISOString(),
      });
      if (claims.expiresAt * 1000 <= now()) return verdict('expired');
      if (user === null) return verdict('user_not_found');
      if (user.disabled) return verdict('user_disabled');
      // qrIssuedAt is stored to the exact second of the badge's IAT (see qr-service.ts).
      if (user.qrIssuedAt === null || user.qrIssuedAt.getTime() !== claims.issuedAt * 1000) return verdict('superseded');
      if (user.role !== claims.role) return verdict('role_changed');
      if (user.email !== claims.email) return verdict('email_changed');
      return verdict();
    },
  };
}
