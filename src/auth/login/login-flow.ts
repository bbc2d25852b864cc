/**
 * What happens once a password (or a QR approval) has proved who someone is: with a second factor
 * enabled, a short-lived single-use MFA challenge instead of a session; otherwise a new session,
 * of the kind the caller's issuer makes (the API's token pair, or a browser's cookie). Every way
 * of signing in ends here.
 */
import { randomBytes } from 'node:crypto';
import type { AuditLog, RequestContext } from '../../audit/audit-log.js';
import { AppError, errors } from '../../errors.js';
import type { OneTimeToken, Store, User } from '../../store/store.js';
import { hashToken, type SessionIssuer } from '../sessions/session-service.js';

/** How long the MFA step may take after the password, in seconds. */
export const MFA_CHALLENGE_TTL_SECONDS = 300;

/**
 * How the first step proved who someone is. A user-verified passkey is two factors in one (the
 * device, and the fingerprint or PIN that unlocked it), so it completes a sign-in without the TOTP
 * step, as Keycloak and Ory Kratos treat it (docs/passkeys.md).
 */
export type LoginMethod = 'password' | 'qr' | 'passkey';

export interface LoginOptions {
  /** The new session ends no later than this (a QR sign-in never outlives the session that approved it). */
  notAfter?: Date;
}

export interface LoginFlow {
  /** A session from `issuer` for `user`, or a thrown 401 MFA_REQUIRED carrying an mfa_token. */
  complete<T>(user: User, context: RequestContext, method: LoginMethod, issuer: SessionIssuer<T>, options?: LoginOptions): Promise<T>;
  /**
   * The session after the second factor of `challenge` was checked, from the same kind of issuer
   * that began it (a browser's challenge cannot end in API tokens, nor the reverse: 401).
   */
  completeAfterMfa<T>(user: User, context: RequestContext, challenge: OneTimeToken, issuer: SessionIssuer<T>): Promise<T>;
}

/** What a login challenge remembers of the first step (JSON in the one-time token's data). */
interface ChallengeData {
  method: LoginMethod;
  /** The kind of session the first step was for (missing in challenges from before: api). */
  kind?: 'api' | 'browser';
  /** ISO time, when the first step limited the session's life. */
  not_after?: string;
  /** Wrong codes so far (totp-service). */
  attempts?: number;
}

/** The answer to a challenge that is unknown, expired, used up, or of the other kind of session. */
export const invalidChallenge = () =>
  new AppError(401, 'INVALID_MFA_TOKEN', 'The mfa_token is invalid, expired or used up: log in again');

export function challengeData(challenge: OneTimeToken): Partial<ChallengeData> & Record<string, unknown> {
  try {
    const data: unknown = JSON.parse(challenge.data ?? '{}');
    return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function createLoginFlow(deps: { store: Store; audit: AuditLog }): LoginFlow {
  const { store, audit } = deps;

  async function finish<T>(
    user: User,
    context: RequestContext,
    issuer: SessionIssuer<T>,
    detail: Record<string, unknown>,
    options: LoginOptions,
  ): Promise<T> {
    const signedIn = await issuer.issue(user, context, options);
    await audit.record('login.succeeded', { userId: user.id, context, detail: { ...detail, client: issuer.kind } });
    return signedIn;
  }

  return {
    async complete(user, context, method, issuer, options = {}) {
      if (user.totpEnabled && method !== 'passkey') {
        const mfaToken = randomBytes(32).toString('base64url');
        const now = new Date();
        const data: ChallengeData = {
          method,
          kind: issuer.kind,
          ...(options.notAfter ? { not_after: options.notAfter.toISOString() } : {}),
        };
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
      return finish(user, context, issuer, { method }, options);
    },

    completeAfterMfa(user, context, challenge, issuer) {
      const data = challengeData(challenge);
      if ((data.kind ?? 'api') !== issuer.kind) throw invalidChallenge();
      const method = data.method === 'qr' ? 'qr' : 'password';
      const notAfter = typeof data.not_after === 'string' ? new Date(data.not_after) : undefined;
      return finish(user, context, issuer, { method, mfa: true }, { notAfter });
    },
  };
}
