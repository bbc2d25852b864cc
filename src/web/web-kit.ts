/**
 * What every page module gets from the web front: rendering a page in the layout, the CSRF check of
 * a form, safe redirects, and route registration that keeps pages out of the OpenAPI document. A
 * page module is a thin adapter: it parses a form, calls the same service a JSON route calls, and
 * renders a view; it holds no rule of its own.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { AppError } from '../errors.js';
import type { User } from '../store/store.js';
import type { WebAssets } from './assets.js';
import { CSRF_FIELD, type Csrf, fromOwnPages } from './csrf.js';
import { html, type SafeHtml } from './html.js';
import { page, type PageOptions } from './layout.js';
import { csrfBinding, type WebContext } from './web-session.js';

export interface WebKit {
  siteName: string;
  assets: WebAssets;
  /** Sends a whole page (status 200 unless given). */
  render(request: FastifyRequest, reply: FastifyReply, options: PageOptions & { status?: number }): FastifyReply;
  /** The CSRF token for this request's forms. */
  csrfToken(request: FastifyRequest, reply: FastifyReply): string;
  /** A page route (hidden from the OpenAPI document). */
  get(app: FastifyInstance, url: string, handler: RouteHandlerMethod): void;
  /**
   * A form route: the origin and CSRF token are checked before the handler runs (403 page
   * otherwise). `beforeLimits` runs before the rate limits count the request (to hand them what
   * the form carries in a cookie rather than a field).
   */
  post(
    app: FastifyInstance,
    url: string,
    handler: RouteHandlerMethod,
    options?: { bodyLimit?: number; beforeLimits?: (request: FastifyRequest) => void },
  ): void;
  /** 303 to a path of this service (never elsewhere: a `next` parameter cannot send anyone away). */
  redirect(reply: FastifyReply, to: string): FastifyReply;
  /** The signed-in user, or a redirect to the sign-in page coming back here (null: the reply is sent). */
  requireUser(request: FastifyRequest, reply: FastifyReply): User | null;
  /** The signed-in admin; others get the 403 page (null: the reply is sent). */
  requireAdmin(request: FastifyRequest, reply: FastifyReply): User | null;
  /**
   * The signed-in user, if they signed in (or typed their password again) within the last
   * REAUTH_WINDOW_MS; else a redirect to /account/confirm, which comes back to `back` (a page to
   * show again, for a form post) after the password. For changing the password, 2FA or the email.
   */
  requireFresh(request: FastifyRequest, reply: FastifyReply, back?: string): User | null;
}

/** A path on this service for a `next` parameter: relative, no scheme, no `//`, no backslash. */
export function safeNext(value: unknown, fallback = '/'): string {
  if (typeof value !== 'string' || value.length > 512) return fallback;
  if (!value.startsWith('/') || value.startsWith('//') || value.includes('\\') || /\p{Cc}/u.test(value)) return fallback;
  return value;
}

export const webContext = (request: FastifyRequest): WebContext => request.web as WebContext;

const HIDDEN = { hide: true };

/** How recent a sign-in must be for a sensitive change without typing the password again. */
export const REAUTH_WINDOW_MS = 5 * 60_000;

export function createWebKit(deps: { siteName: string; assets: WebAssets; csrf: Csrf; ownOrigin: (request: FastifyRequest) => string }): WebKit {
  const { siteName, assets, csrf } = deps;

  const csrfToken = (request: FastifyRequest, reply: FastifyReply) => csrf.token(csrfBinding(request, reply));

  const kit: WebKit = {
    siteName,
    assets,
    csrfToken,

    render(request, reply, options) {
      const user = webContext(request).user;
      const chrome = {
        siteName,
        assets,
        path: request.url.split('?')[0] ?? '/',
        user,
        // The header's sign-out form, only for someone signed in (no cookie is set for it otherwise).
        csrfToken: user === null ? '' : csrfToken(request, reply),
      };
      return reply
        .code(options.status ?? 200)
        .type('text/html; charset=utf-8')
        .send(page(chrome, options).value);
    },

    get(app, url, handler) {
      app.get(url, { schema: HIDDEN }, handler);
    },

    post(app, url, handler, options = {}) {
      app.post(
        url,
        {
          schema: HIDDEN,
          ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
          preValidation: (request, _reply, done) => {
            options.beforeLimits?.(request);
            done();
          },
          preHandler: (request, reply, done) => {
            const body = request.body as Record<string, unknown> | null | undefined;
            const web = webContext(request);
            const binding = web.session !== null ? `s:${web.session.id}` : web.anonymous === null ? null : `a:${web.anonymous}`;
            if (!fromOwnPages(request, deps.ownOrigin(request)) || binding === null || !csrf.valid(binding, body?.[CSRF_FIELD])) {
              done(new AppError(403, 'CSRF_FAILED', 'This form came from another site, or is too old to send: go back, reload the page and try again'));
              return;
            }
            done();
          },
        },
        handler,
      );
    },

    redirect(reply, to) {
      return reply.code(303).header('location', safeNext(to, '/')).send();
    },

    requireUser(request, reply) {
      const user = webContext(request).user;
      if (user !== null) return user;
      const next = request.method === 'GET' ? request.url : '/account';
      kit.redirect(reply, `/sign-in?next=${encodeURIComponent(next)}`);
      return null;
    },

    requireFresh(request, reply, back) {
      const user = kit.requireUser(request, reply);
      if (user === null) return null;
      const session = webContext(request).session;
      if (session !== null && Date.now() - session.createdAt.getTime() < REAUTH_WINDOW_MS) return user;
      const next = back ?? (request.method === 'GET' ? request.url : '/account');
      kit.redirect(reply, `/account/confirm?next=${encodeURIComponent(next)}`);
      return null;
    },

    requireAdmin(request, reply) {
      const user = kit.requireUser(request, reply);
      if (user === null) return null;
      if (user.role === 'admin') return user;
      kit.render(request, reply, { status: 403, title: 'Not allowed', main: errorMain('Not allowed', 'Only an admin may open this page.') });
      return null;
    },
  };
  return kit;
}

/** The body of an error page: a heading, what happened, and a way on. */
export function errorMain(heading: string, message: string, link: { href: string; label: string } = { href: '/', label: 'Go to the start page' }): SafeHtml {
  return html`<h1>${heading}</h1>
<p>${message}</p>
<p><a href="${link.href}">${link.label}</a></p>`;
}
