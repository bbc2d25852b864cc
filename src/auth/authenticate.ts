/**
 * The authentication hooks routes attach with `onRequest`: they read the bearer token, verify it
 * and load the user on every request, so a deleted user's token stops working at once (and a
 * role change takes effect at once: the stored role counts, not the token's claim).
 */
import type { FastifyRequest } from 'fastify';
import { errors } from '../errors.js';
import type { User } from '../store/store.js';
import type { UserService } from '../users/user-service.js';
import type { AccessClaims, TokenService } from './tokens/tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated user, set by the authentication hooks; null on public routes. */
    user: User | null;
    /** The verified claims of the bearer token that authenticated `user`. */
    tokenClaims: AccessClaims | null;
  }
}

const BEARER_RE = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

export interface Authenticator {
  /** 401 unless a valid bearer token of an existing user is presented. */
  required(request: FastifyRequest): Promise<void>;
  /** As `required`, then 403 unless that user is an admin. */
  admin(request: FastifyRequest): Promise<void>;
  /** Sets request.user when a valid token is presented; a missing one is fine, a bad one is a 401. */
  optional(request: FastifyRequest): Promise<void>;
}

export function createAuthenticator(tokens: TokenService, users: Pick<UserService, 'findById'>): Authenticator {
  async function authenticate(request: FastifyRequest, header: string): Promise<void> {
    const match = BEARER_RE.exec(header);
    if (match === null) throw errors.notAuthenticated();
    const claims = tokens.verify(match[1] as string);
    const user = await users.findById(claims.sub);
    // Deleted, disabled, or revoked since issue (logout-all, password or role change): the
    // token version moved on, and every older token stops working at once. Its own session ended
    // (logout, revoked, refresh-token reuse): the user's row lists it until its tokens expire.
    if (user === null || user.disabled || claims.ver !== user.tokenVersion) throw errors.invalidToken();
    if (user.revokedSessions.length > 0 && user.revokedSessions.some((s) => s.sessionId === claims.sid)) {
      throw errors.invalidToken();
    }
    request.user = user;
    request.tokenClaims = claims;
  }

  const required = async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    if (header === undefined || header === '') throw errors.notAuthenticated();
    await authenticate(request, header);
  };

  return {
    required,
    async admin(request) {
      await required(request);
      if (request.user?.role !== 'admin') throw errors.adminRequired();
    },
    async optional(request) {
      const header = request.headers.authorization;
      if (header !== undefined && header !== '') await authenticate(request, header);
    },
  };
}

/** The authenticated user of a route guarded by `required` or `admin`. */
export function currentUser(request: FastifyRequest): User {
  if (request.user === null) throw errors.notAuthenticated();
  return request.user;
}
