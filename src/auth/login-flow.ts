/**
 * What happens once a password (or a QR approval) has proved who someone is: with a second factor
 * enabled, a short-lived single-use MFA challenge instead of tokens; otherwise a new session and
 * its tokens. Every way of logging in ends here.
 */
import { randomBytes } from 'node:crypto';
import type { AuditLog, RequestContext } from '../audit/audit-log.js';
import { errors } from '../errors.js';
import type { OneTimeToken, Store, User } from '../store/store.js';
import { hashToken, type SessionService, type TokenPair } from './session-service.js';

/** How long the MFA step may take after the password, in seconds. */
export const MFA_CHALLENGE_TTL_SECONDS = 300;

export type LoginMethod = 'password' | 'qr';

export interface LoginOptions {
  /** The new session ends no later than this (a QR sign-in never outlives the session that approved it). */
  notAfter?: Date;
}

export interface LoginFlow {
  /** Tokens for `user`, or a thrown 401 MFA_REQUIRED carrying an mfa_token. */
  complete(user: User, context: RequestContext, method: LoginMethod, options?: LoginOptions): Promise<TokenPair>;
  /** Tokens after the second factor of `challenge` was checked. */
  completeAfterMfa(user: User, context: RequestContext, challenge: OneTimeToken): Promise<TokenPair>;
}

/** What a login challenge remembers of the first step (JSON in the one-time token's data). */
interface ChallengeData {
  method: LoginMethod;
  /** ISO time, when the first step limited the session's life. */
  not_after?: string;
  /** Wrong codes so far (totp-service). */
  attempts?: number;
}

export function challengeData(challenge: OneTimeToken): Partial<ChallengeData> & Record<string, unknown> {
  try {
    const data: unknown = JSON.parse(challenge.data ?? '{}');
    return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function createLoginFlow(deps: { store: Store; sessions: SessionService; audit: AuditLog }): LoginFlow {
  const { store, sessions, audit } = deps;

  async function finish(user: User, context: RequestContext, detail: Record<string, unknown>, options: LoginOptions) {
    const pair = await sessions.start(user, context, options);
    await audit.record('login.succeeded', { userId: user.id, context, detail });
    return pair;
  }

  return {
    async complete(user, context, method, options = {}) {
      if (user.totpEnabled) {
        const mfaToken = randomBytes(32).toString('base64url');
        const now = new Date();
        const data: ChallengeData = { method, ...(options.notAfter ? { not_after: options.notAfter.toISOString() } : {}) };
        await store.oneTimeTokens.insert({
          hash: hashToken(mfaToken),
          purpose: 'mfa',
          userId: user.id,
          createdAt: now,
          expiresAt: new Date(now.getTime() + MFA_CHALLENGE_TTL_SECONDS * 1000),
          data: JSON.stringify(data),
        });
        throw errors.mfaRequired(mfaToken);
      }
      return finish(user, context, { method }, options);
    },

    completeAfterMfa(user, context, challenge) {
      const data = challengeData(challenge);
      const method = data.method === 'qr' ? 'qr' : 'password';
      const notAfter = typeof data.not_after === 'string' ? new Date(data.not_after) : undefined;
      return finish(user, context, { method, mfa: true }, { notAfter });
    },
  };
}
