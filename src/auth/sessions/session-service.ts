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
 *
 * A browser (the web front) holds a session of kind `browser` instead: the same row, listed and
 * revoked like any other, whose one opaque token lives in an HttpOnly cookie and is checked on
 * every page. It has no access tokens and cannot be refreshed through the API.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { AuditLog, RequestContext } from '../../audit/audit-log.js';
import { AppError } from '../../errors.js';
import type { Session, SessionKind, Store, User } from '../../store/store.js';
import { newId } from '../../users/ids.js';
import type { TokenService } from '../tokens/tokens.js';

export interface TokenPair {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  refresh_token: string;
}

/** What a browser holds after signing in: its session, and the token its cookie carries. */
export interface BrowserSignIn {
  sessionId: string;
  /** The cookie's value: 32 random bytes; stored only as its SHA-256. */
  token: string;
  expiresAt: Date;
}

export interface SessionOptions {
  /** The new session ends no later than this (a QR sign-in never outlives the session that approved it). */
  notAfter?: Date;
}

/**
 * Starts a session of one kind, for the flows that sign someone in (login-flow.ts): the JSON API
 * passes the `api` issuer (a token pair), the web front the `browser` one (a cookie). A login
 * challenge remembers which issuer began it, so a browser's challenge cannot end in API tokens.
 */
export interface SessionIssuer<T> {
  readonly kind: SessionKind;
  issue(user: User, context: RequestContext, options?: SessionOptions): Promise<T>;
}

export interface SessionService {
  /** A new API session; `notAfter` caps its life. */
  start(user: User, context: RequestContext, options?: SessionOptions): Promise<TokenPair>;
  /** Issues API sessions (a token pair). */
  readonly api: SessionIssuer<TokenPair>;
  /** Issues browser sessions (a cookie token), living `browserTtlSeconds` at most. */
  readonly browser: SessionIssuer<BrowserSignIn>;
  /** The live browser session a cookie token names, with its user; null for anything else. */
  browserSession(token: string): Promise<{ session: Session; user: User } | null>;
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
  /** Ends a session of the user (signing out a browser): revoked, its tokens refused at once. */
  end(user: User, sessionId: string, context: RequestContext): Promise<void>;
}

/** A browser session's last use is written at most this often (it is shown in the list of devices). */
const TOUCH_EVERY_MS = 5 * 60_000;

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
  /** How long a browser session lives at most (the web front's cookie). */
  browserTtlSeconds?: number;
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

  /** A new session row of `kind` and its first token (the refresh token, or the browser's cookie). */
  async function open(user: User, context: RequestContext, kind: SessionKind, ttlSeconds: number, options: SessionOptions) {
    const now = new Date();
    const token = newRefreshToken();
    let expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
    if (options.notAfter !== undefined && options.notAfter < expiresAt) expiresAt = options.notAfter;
    const session: Session = {
      id: newId(now),
      userId: user.id,
      kind,
      createdAt: now,
      lastUsedAt: now,
      expiresAt,
      revokedAt: null,
      userAgent: context.userAgent?.slice(0, 512) ?? null,
      ip: context.ip,
    };
    await store.sessions.create(session, hashToken(token));
    return { session, token };
  }

  async function start(user: User, context: RequestContext, options: SessionOptions = {}): Promise<TokenPair> {
    const { session, token } = await open(user, context, 'api', deps.refreshTtlSeconds, options);
    return { ...(await access(user, session.id)), refresh_token: token };
  }

  const browserTtlSeconds = deps.browserTtlSeconds ?? 12 * 3600;

  return {
    start,
    api: { kind: 'api', issue: start },
    browser: {
      kind: 'browser',
      async issue(user, context, options = {}) {
        const { session, token } = await open(user, context, 'browser', browserTtlSeconds, options);
        return { sessionId: session.id, token, expiresAt: session.expiresAt };
      },
    },

    async browserSession(token) {
      if (!REFRESH_TOKEN_RE.test(token)) return null;
      const found = await store.sessions.findByTokenHash(hashToken(token));
      const now = new Date();
      if (found === null || found.session.kind !== 'browser') return null;
      const { session } = found;
      if (session.revokedAt !== null || session.expiresAt <= now) return null;
      const user = await store.findUserById(session.userId);
      if (user === null || user.disabled) return null;
      if (now.getTime() - session.lastUsedAt.getTime() > TOUCH_EVERY_MS) await store.sessions.touch(session.id, now);
      return { session, user };
    },

    async refresh(refreshToken, context) {
      if (!REFRESH_TOKEN_RE.test(refreshToken)) throw invalidRefresh();
      const now = new Date();
      const found = await store.sessions.findByTokenHash(hashToken(refreshToken));
      if (found === null) throw invalidRefresh();
      const { session, token } = found;
      // A browser's cookie is not a refresh token: it never buys API tokens.
      if (session.kind !== 'api' || session.revokedAt !== null || session.expiresAt <= now) throw invalidRefresh();
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

    async end(user, sessionId, context) {
      await endSession(user.id, sessionId);
      await audit.record('logout', { userId: user.id, context, detail: { session_id: sessionId } });
    },
  };
}
