/**
 * What happens once a password (or, later, a QR approval) has proved who someone is: with a
 * second factor enabled, a short-lived single-use MFA challenge instead of tokens; otherwise a
 * new session and its tokens. Every way of logging in ends here.
 */
import { randomBytes } from 'node:crypto';
import type { AuditLog, RequestContext } from '../audit/audit-log.js';
import { errors } from '../errors.js';
import type { Store, User } from '../store/store.js';
import { hashToken, type SessionService, type TokenPair } from './session-service.js';

/** How long the MFA step may take after the password, in seconds. */
export const MFA_CHALLENGE_TTL_SECONDS = 300;

export interface LoginFlow {
  /** Tokens for `user`, or a thrown 401 MFA_REQUIRED carrying an mfa_token. */
  complete(user: User, context: RequestContext, method: 'password' | 'qr'): Promise<TokenPair>;
  /** Tokens after the second factor was checked. */
  completeAfterMfa(user: User, context: RequestContext): Promise<TokenPair>;
}

export function createLoginFlow(deps: { store: Store; sessions: SessionService; audit: AuditLog }): LoginFlow {
  const { store, sessions, audit } = deps;

  async function finish(user: User, context: RequestContext, detail: Record<string, unknown>) {
    const pair = await sessions.start(user, context);
    await audit.record('login.succeeded', { userId: user.id, context, detail });
    return pair;
  }

  return {
    async complete(user, context, method) {
      if (user.totpEnabled) {
        const mfaToken = randomBytes(32).toString('base64url');
        const now = new Date();
        await store.oneTimeTokens.insert({
          hash: hashToken(mfaToken),
          purpose: 'mfa',
          userId: user.id,
          createdAt: now,
          expiresAt: new Date(now.getTime() + MFA_CHALLENGE_TTL_SECONDS * 1000),
          data: JSON.stringify({ method }),
        });
        throw errors.mfaRequired(mfaToken);
      }
      return finish(user, context, { method });
    },

    completeAfterMfa: (user, context) => finish(user, context, { method: 'password', mfa: true }),
  };
}
