/**
 * The browser's side of a session: which cookie holds what, and the hook that reads the session
 * on every page (the web front's `request.web`). The session itself is a row of the same store as
 * the API's refresh-token sessions (kind `browser`, auth/sessions/session-service.ts), so the list of
 * devices shows it and logout-all, a password or role change and disabling end it at once.
 *
 * Every cookie is HttpOnly (no script reads it) and SameSite=Lax; on https pages it is Secure and
 * named with the `__Host-` prefix (no Domain, Path=/: no sub-domain can set or shadow it).
 */
import { randomBytes } from 'node:crypto';
import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { BrowserSignIn, SessionService } from '../auth/sessions/session-service.js';
import type { Session, User } from '../store/store.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The web front's view of the request (set on the web pages; null elsewhere). */
    web: WebContext | null;
  }
}

export interface WebContext {
  user: User | null;
  session: Session | null;
  /** The page is https: cookies are Secure and __Host- prefixed. */
  secure: boolean;
  /** The anonymous CSRF binding before sign-in (a random cookie), null once signed in or not yet set. */
  anonymous: string | null;
}

/** The cookies of the web front, by purpose. */
export type CookiePurpose =
  | 'sid' // the browser session
  | 'csrf' // the anonymous CSRF binding, before sign-in
  | 'mfa' // a sign-in waiting for its second factor (5 minutes)
  | 'qrl' // a sign-in by QR this browser started (its id and secret)
  | 'rst' // the token of an opened password-reset link (kept out of the address bar)
  | 'adev' // attendance: this browser's long-lived device id (a second account from it is flagged)
  | 'atk'; // attendance: the arrival ticket of a scan made before signing in (2 minutes)

export const cookieName = (purpose: CookiePurpose, secure: boolean) => (secure ? `__Host-${purpose}` : purpose);

export function cookieOptions(secure: boolean, maxAgeSeconds?: number) {
  return {
    httpOnly: true,
    sameSite: 'lax' as const,
    path: '/',
    secure,
    ...(maxAgeSeconds === undefined ? {} : { maxAge: maxAgeSeconds }),
  };
}

export function readCookie(request: FastifyRequest, purpose: CookiePurpose): string | undefined {
  const web = request.web;
  const value = request.cookies?.[cookieName(purpose, web?.secure ?? false)];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function setCookie(request: FastifyRequest, reply: FastifyReply, purpose: CookiePurpose, value: string, maxAgeSeconds?: number) {
  const secure = request.web?.secure ?? false;
  reply.setCookie(cookieName(purpose, secure), value, cookieOptions(secure, maxAgeSeconds));
}

export function clearCookie(request: FastifyRequest, reply: FastifyReply, purpose: CookiePurpose) {
  const secure = request.web?.secure ?? false;
  // The 404 page is rendered outside the pages' scope, where replies cannot set cookies: it leaves them.
  if (typeof reply.clearCookie === 'function') reply.clearCookie(cookieName(purpose, secure), cookieOptions(secure));
}

/**
 * The onRequest hook of the web pages: who is signed in. A cookie naming no live session (signed
 * out, revoked, expired, a disabled user) is cleared. `request.user` is set too, so the per-user
 * rate limits count a page exactly as they count the API.
 */
export function webSessionHook(deps: { sessions: Pick<SessionService, 'browserSession'>; httpsPages: boolean }) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const secure = deps.httpsPages || request.protocol === 'https';
    const web: WebContext = { user: null, session: null, secure, anonymous: null };
    request.web = web;
    web.anonymous = readCookie(request, 'csrf') ?? null;
    const token = readCookie(request, 'sid');
    if (token === undefined) return;
    const found = await deps.sessions.browserSession(token);
    if (found === null) {
      clearCookie(request, reply, 'sid');
      return;
    }
    web.user = found.user;
    web.session = found.session;
    request.user = found.user;
  };
}

/** The CSRF binding of this request, creating the anonymous cookie when there is none yet. */
export function csrfBinding(request: FastifyRequest, reply: FastifyReply): string {
  const web = request.web as WebContext;
  if (web.session !== null) return `s:${web.session.id}`;
  if (web.anonymous === null) {
    web.anonymous = randomBytes(18).toString('base64url');
    setCookie(request, reply, 'csrf', web.anonymous);
  }
  return `a:${web.anonymous}`;
}

/**
 * Signs the browser in: the new session's cookie replaces any earlier one, whose session ends
 * (a sign-in always gets a fresh session id: no fixation).
 */
export async function startBrowserSession(
  request: FastifyRequest,
  reply: FastifyReply,
  signedIn: BrowserSignIn,
  end: (session: Session) => Promise<void>,
): Promise<void> {
  const web = request.web as WebContext;
  if (web.session !== null && web.session.id !== signedIn.sessionId) await end(web.session);
  setCookie(request, reply, 'sid', signedIn.token);
}
