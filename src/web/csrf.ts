/**
 * Cross-site request forgery defences for the web pages, two of them on every state-changing
 * request (OWASP CSRF Prevention Cheat Sheet):
 * - the browser's own word on where the request comes from: `Sec-Fetch-Site` must be same-origin
 *   (or none, typed by the person), and `Origin`, when sent, must be this service's;
 * - a token in the form, bound to the session (or, before sign-in, to a random cookie): an HMAC
 *   of that binding under a key derived from the signing key, so nothing is stored, every instance
 *   computes the same token, and it is worthless for any other session.
 * Together with SameSite=Lax cookies, a form on another site can neither read nor replay a token.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/** The form field every page's forms carry. */
export const CSRF_FIELD = '_csrf';

export interface Csrf {
  /** The token for a binding: `s:<session id>` when signed in, `a:<anonymous cookie>` before. */
  token(binding: string): string;
  /** Whether `given` is the token of `binding` (constant time). */
  valid(binding: string, given: unknown): boolean;
}

export function createCsrf(secret: Buffer): Csrf {
  const token = (binding: string) => createHmac('sha256', secret).update(binding).digest('base64url');
  return {
    token,
    valid(binding, given) {
      if (typeof given !== 'string' || given.length > 128) return false;
      const expected = Buffer.from(token(binding));
      const actual = Buffer.from(given);
      return expected.length === actual.length && timingSafeEqual(expected, actual);
    },
  };
}

/**
 * Whether the browser says this request comes from this service's own pages. A header that is
 * absent says nothing (older browsers, curl): the token still has to match.
 */
export function fromOwnPages(request: FastifyRequest, ownOrigin: string): boolean {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return false;
  const origin = request.headers.origin;
  if (typeof origin === 'string' && origin !== ownOrigin) return false;
  return true;
}
