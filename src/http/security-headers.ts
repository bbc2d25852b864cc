/**
 * Security headers (helmet) and CORS. The API answers JSON, images and the Swagger UI at /docs,
 * so its default Content-Security-Policy allows nothing at all: a response opened in a browser
 * (an SVG badge, an error page) can run no script and cannot be framed. /docs sends its own,
 * narrower-than-usual policy (http/openapi.ts).
 *
 * CORS is off unless CORS_ORIGINS lists origins. Credentials (cookies) are never allowed: the API
 * authenticates with bearer tokens, so `*` (when configured) exposes nothing a page could not
 * already read with its own token.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import helmet from 'helmet';

/** The API's own policy: nothing may load, nothing may frame it. */
const API_CSP = {
  defaultSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
};

/** Response headers a browser script may read across origins (paging, limits, tracing). */
const EXPOSED_HEADERS = [
  'Link',
  'Retry-After',
  'X-Request-Id',
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  'ETag',
];

/**
 * Helmet's headers, computed once: they are the same for every response (no nonces), and
 * @fastify/helmet rebuilds them, CSP parsing included, on every request (~5% of a small request).
 */
export function securityHeaders(csp: Record<string, string[]> = API_CSP): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()];
    },
  } as unknown as ServerResponse;
  helmet({
    contentSecurityPolicy: { useDefaults: false, directives: csp },
    frameguard: { action: 'deny' },
  })({} as IncomingMessage, res, () => undefined);
  return headers;
}

/**
 * Helmet's headers that only a document (an HTML page) uses: process isolation, DNS prefetching,
 * IE8 downloads, Flash/PDF policy files, the retired XSS auditor. JSON and images do not need
 * them; the pages at /docs get them.
 */
const DOCUMENT_ONLY = [
  'cross-origin-opener-policy',
  'origin-agent-cluster',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
];

/**
 * The headers of API answers: OWASP's REST set (CSP, HSTS, nosniff, frame denial, no-store)
 * plus CORP and Referrer-Policy. `cache-control: no-store` is the default: tokens (RFC 6749
 * §5.1), profiles and errors must not sit in a shared cache. Routes that may be cached (QR
 * images, the JWKS) set their own.
 */
export function apiHeaders(): Record<string, string> {
  const headers = securityHeaders();
  for (const name of DOCUMENT_ONLY) delete headers[name];
  headers['cache-control'] = 'no-store';
  return headers;
}

/**
 * The web front's pages: this origin's own stylesheet, scripts and images only; no inline script or
 * style, no framing, forms that post only here. `blob:` images are the badge checker's photo
 * preview and camera frames.
 */
export const PAGE_CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:', 'blob:'],
  mediaSrc: ["'self'", 'blob:'],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/**
 * The headers of a web page: every helmet header, the pages' CSP, and no caching of what they show.
 * Referrer-Policy same-origin, not no-referrer: under no-referrer a browser sends `Origin: null`
 * with a form post, and the pages' CSRF check needs the real origin of their own forms. Other
 * sites still get no referrer at all.
 */
export function pageHeaders(): Record<string, string> {
  return { ...securityHeaders(PAGE_CSP), 'referrer-policy': 'same-origin', 'cache-control': 'no-store' };
}

/** Swagger UI's pages and assets: every helmet header (its own CSP replaces the API's). */
const DOCS_PREFIX = '/docs';

export async function registerSecurityHeaders(app: FastifyInstance, options: { corsOrigins: string[] }): Promise<void> {
  const api = apiHeaders();
  const documents = securityHeaders();
  // Set first, so a route with its own policy (Swagger UI's CSP, a cacheable image) overrides it.
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(request.url.startsWith(DOCS_PREFIX) ? documents : api);
    done();
  });
  if (options.corsOrigins.length === 0) return;
  const anyOrigin = options.corsOrigins.includes('*');
  await app.register(cors, {
    origin: anyOrigin ? '*' : options.corsOrigins,
    credentials: false,
    methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
    exposedHeaders: EXPOSED_HEADERS,
    // Browsers cap this (Chrome: 2 hours); 10 minutes keeps a changed list quick to apply.
    maxAge: 600,
  });
}
