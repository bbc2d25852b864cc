/**
 * Sessions and refresh tokens. A login starts a session: an access token (short-lived, carrying
 * the session id and the user's token version) and an opaque refresh token, stored only as its
 * SHA-256. Each refresh token works once: /auth/refresh marks it used and returns a new pair.
 * Presenting a used one means it was copied — the whole session (its token family) is revoked.
 * Logout-all and every security change (password, role, disabling) revoke all sessions and bump
 * the token version, which kills outstanding access tokens at once. Ending ONE session (logout,
 * revoking it from the list, a reused refresh token) puts it on the user's revoked sessions for
 * as long as its access tokens may live: the authentication hook, which reads the user on every
 * request anyway, refuses them at once, on every instance.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { AuditLog, RequestContext } from '../audit/audit-log.js';
import { AppError } from '../errors.js';
import type { Session, Store, User } from '../store/store.js';
import { newId } from '../users/ids.js';
import type { TokenService } from './tokens.js';

export interface TokenPair {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  refresh_token: string;
}

export interface SessionService {
  /** A new session; `notAfter` caps its life (it never outlives the session that approved it). */
  start(user: User, context: RequestContext, options?: { notAfter?: Date }): Promise<TokenPair>;
  refresh(refreshToken: string, context: RequestContext): Promise<TokenPair>;
  /** A fresh access token for a session that continues (after a password change). */
  reissueAccess(user: User, sessionId: string | undefined): Promise<Omit<TokenPair, 'refresh_token'>>;
  logout(user: User, sessionId: string | undefined, context: RequestContext): Promise<void>;
  logoutAll(user: User, context: RequestContext): Promise<void>;
  list(user: User): Promise<Session[]>;
  revoke(user: User, sessionId: string, context: RequestContext): Promise<void>;
  /** Revokes every session of the user (except `keepSessionId`) and every access token. */
  revokeEverything(userId: string, keepSessionId?: string): Promise<void>;
  /** Whether this session of the user is live (not revoked, not expired); its end when it is. */
  liveSession(user: User, sessionId: string | undefined): Promise<Session | null>;
}

/**
 * Revoked sessions a user may have listed at once; past this (someone logging out of fifty devices
 * within one access-token lifetime) the token version is bumped instead, which refuses every
 * older access token of the user, and their live sessions simply refresh.
 */
export const MAX_REVOKED_SESSIONS = 50;

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');
const newRefreshToken = () => randomBytes(32).toString('base64url');
const REFRESH_TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

const invalidRefresh = () =>
  new AppError(401, 'INVALID_REFRESH_TOKEN', 'The refresh token is invalid, expired or revoked; log in again');

export function createSessionService(deps: {
  store: Store;
  tokens: TokenService;
  audit: AuditLog;
  refreshTtlSeconds: number;
  /** How long an access token lives: a revoked session is listed that long. */
  accessTtlSeconds: number;
}): SessionService {
  const { store, tokens, audit } = deps;

  /** Revokes one session, and refuses its access tokens from now on. */
  async function endSession(userId: string, sessionId: string): Promise<boolean> {
    const now = new Date();
    const revoked = await store.sessions.revoke(sessionId, now);
    const until = new Date(now.getTime() + deps.accessTtlSeconds * 1000);
    const listed = await store.addRevokedSession(userId, { sessionId, until }, now);
    if (listed !== null && listed > MAX_REVOKED_SESSIONS) await store.bumpTokenVersion(userId);
    return revoked;
  }

  async function access(user: User, sessionId: string | undefined) {
    const issued = await tokens.issue({ id: user.id, role: user.role, tokenVersion: user.tokenVersion, sessionId });
    return { access_token: issued.token, token_type: 'bearer' as const, expires_in: issued.expiresIn };
  }

  async function revokeEverything(userId: string, keepSessionId?: string) {
    const now = new Date();
    if (keepSessionId === undefined) {
      await store.sessions.revokeAllOfUser(userId, now);
    } else {
      for (const session of await store.sessions.listActive(userId, now)) {
        if (session.id !== keepSessionId) await store.sessions.revoke(session.id, now);
      }
    }
    await store.bumpTokenVersion(userId);
  }

  return {
    async start(user, context, options = {}) {
      const now = new Date();
      const refreshToken = newRefreshToken();
      let expiresAt = new Date(now.getTime() + deps.refreshTtlSeconds * 1000);
      if (options.notAfter !== undefined && options.notAfter < expiresAt) expiresAt = options.notAfter;
      const session: Session = {
        id: newId(now),
        userId: user.id,
        createdAt: now,
        lastUsedAt: now,
        expiresAt,
        revokedAt: null,
        userAgent: context.userAgent?.slice(0, 512) ?? null,
        ip: context.ip,
      };
      await store.sessions.create(session, hashToken(refreshToken));
      return { ...(await access(user, session.id)), refresh_token: refreshToken };
    },

    async refresh(refreshToken, context) {
      if (!REFRESH_TOKEN_RE.test(refreshToken)) throw invalidRefresh();
      const now = new Date();
      const found = await store.sessions.findByTokenHash(hashToken(refreshToken));
      if (found === null) throw invalidRefresh();
      const { session, token } = found;
      if (session.revokedAt !== null || session.expiresAt <= now) throw invalidRefresh();
      const user = await store.findUserById(session.userId);
      if (user === null || user.disabled) throw invalidRefresh();

      const next = newRefreshToken();
      // A used token, or losing the race to rotate it, means two parties hold it: theft.
      if (token.usedAt !== null || !(await store.sessions.rotate(token.hash, hashToken(next), now))) {
        // Whoever holds the copy may hold this session's access tokens too: they end with it.
        await endSession(user.id, session.id);
        await audit.record('refresh.reuse_detected', { userId: user.id, context, detail: { session_id: session.id } });
        throw invalidRefresh();
      }
      await audit.record('refresh.succeeded', { userId: user.id, context, detail: { session_id: session.id } });
      return { ...(await access(user, session.id)), refresh_token: next };
    },

    reissueAccess: access,

    async logout(user, sessionId, context) {
      if (sessionId !== undefined) await endSession(user.id, sessionId);
      await audit.record('logout', { userId: user.id, context, detail: { session_id: sessionId ?? null } });
    },

    async logoutAll(user, context) {
      await revokeEverything(user.id);
      await audit.record('logout.all', { userId: user.id, context });
    },

    list: (user) => store.sessions.listActive(user.id, new Date()),

    async revoke(user, sessionId, context) {
      const mine = (await store.sessions.listActive(user.id, new Date())).some((s) => s.id === sessionId);
      if (!mine || !(await endSession(user.id, sessionId))) {
        throw new AppError(404, 'SESSION_NOT_FOUND', 'No such active session');
      }
      await audit.record('session.revoked', { userId: user.id, context, detail: { session_id: sessionId } });
    },

    revokeEverything,

    async liveSession(user, sessionId) {
      if (sessionId === undefined) return null;
      return (await store.sessions.listActive(user.id, new Date())).find((s) => s.id === sessionId) ?? null;
    },
  };
}
