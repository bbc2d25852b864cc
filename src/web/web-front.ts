/**
 * The web front: the service's own pages, served beside the JSON API by the same process. It is
 * one more adapter over the same services (route -> service -> store), in a Fastify scope of its
 * own: only here are cookies read, forms parsed, pages rendered and the pages' Content-Security-
 * Policy sent; the API's routes and hot path are untouched.
 *
 * Every page module is wired here explicitly, as app.ts wires the API's.
 */
import cookie, { fastifyCookie } from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { QrLoginService } from '../auth/qr-login/qr-login.js';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { pageHeaders } from '../http/security-headers.js';
import { StoreUnavailable } from '../store/store.js';
import type { BadgeVerifier } from '../qr/badge-verifier.js';
import type { QrScanner } from '../qr/qr-scan.js';
import type { QrService } from '../qr/qr-service.js';
import { ASSETS_PREFIX, type WebAssets } from './assets.js';
import { createCsrf } from './csrf.js';
import { html } from './html.js';
import type { PasswordService } from '../auth/recovery/password-service.js';
import type { Attendance } from '../attendance/attendance.js';
import { createQrImages } from '../qr-render/qr-images.js';
import { accountPage } from './pages/account-page.js';
import { attendPages } from './pages/attendance/attend-pages.js';
import { sessionPages } from './pages/attendance/session-pages.js';
import { teachPages } from './pages/attendance/teach-pages.js';
import { badgePages } from './pages/badge-pages.js';
import { checkPages } from './pages/check-pages.js';
import { confirmPage } from './pages/confirm-page.js';
import { homePage } from './pages/home-page.js';
import { passkeyPages } from './pages/passkey-pages.js';
import { oidcInteractionPages, type OidcInteractionDeps } from './pages/oidc-interaction-pages.js';
import { appsPages } from './pages/manage/apps-pages.js';
import { passwordPage } from './pages/password-page.js';
import { passwordResetPages } from './pages/password-reset-pages.js';
import { sessionsPage } from './pages/sessions-page.js';
import { managePages, type ManageDeps } from './pages/manage/manage-pages.js';
import { manageNav } from './pages/manage/manage-views.js';
import { qrApprovePages } from './pages/qr-approve-pages.js';
import { qrSignInPages } from './pages/qr-sign-in-pages.js';
import { signInPages, type SignInDeps } from './pages/sign-in-pages.js';
import { twoFactorPages } from './pages/two-factor-pages.js';
import { verifyEmailPages } from './pages/verify-email-pages.js';
import { createWebKit, errorMain, type WebKit } from './web-kit.js';
import { webSessionHook } from './web-session.js';

/** Form bodies are small: a few fields, never a file (uploads have their own limit). */
const FORM_BODY_LIMIT = 64 * 1024;

export interface WebFrontDeps extends Omit<SignInDeps, 'kit'>, Omit<ManageDeps, 'kit' | 'appsOn'> {
  config: Config;
  assets: WebAssets;
  /** The key CSRF tokens are made with (auth/tokens/keys.ts deriveSecret). */
  csrfSecret: Buffer;
  passwordService: PasswordService;
  qrLogin: QrLoginService;
  /** Badges: drawing and issuing (POST /qr/generate's), checking (POST /qr/verify's), reading photos (POST /qr/scan's). */
  qr: QrService;
  badges: BadgeVerifier;
  scanner: QrScanner;
  /** Courses, sessions and check-ins (attendance/attendance.ts). */
  attendance: Attendance;
  /** The OpenID Connect provider's pages (sign-in and consent for apps, /manage/apps); null when it is off. */
  oidc: Omit<OidcInteractionDeps, 'kit'> | null;
}

/**
 * Whether a request wants a page rather than JSON: a browser's navigation asks for text/html.
 * API clients (curl's * / *, scripts' application/json) keep getting JSON.
 */
export function wantsHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  return typeof accept === 'string' && accept.includes('text/html');
}

export interface WebFront {
  /** The pages, in a Fastify scope of their own. */
  plugin: (app: FastifyInstance) => Promise<void>;
  /** Every page route (`METHOD /url`), once registered: for the hostile-input test and the bench. */
  readonly routes: readonly { method: string; url: string }[];
  /** The 404 page, for the service's one not-found handler (app.ts) when a browser asks. */
  notFound(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply>;
}

export function createWebFront(deps: WebFrontDeps): WebFront {
  const { config, assets } = deps;
  const publicOrigin = config.mail.publicUrl === null ? null : new URL(config.mail.publicUrl).origin;
  const kit = createWebKit({
    siteName: config.totp.issuer,
    assets,
    csrf: createCsrf(deps.csrfSecret),
    // PUBLIC_URL in production; without it (development), the origin the browser used for this page.
    ownOrigin: (request) => publicOrigin ?? `${request.protocol}://${request.host}`,
  });
  const headers = pageHeaders();
  const sessionHook = webSessionHook({ sessions: deps.sessions, httpsPages: publicOrigin?.startsWith('https:') ?? false });

  const routes: { method: string; url: string }[] = [];
  const plugin = async (app: FastifyInstance) => {
    app.addHook('onRoute', (route) => {
      for (const method of Array.isArray(route.method) ? route.method : [route.method]) routes.push({ method, url: route.url });
    });
    await app.register(cookie);
    await app.register(formbody, { bodyLimit: FORM_BODY_LIMIT });
    app.decorateRequest('web', null);

    app.addHook('onRequest', (_request, reply, done) => {
      // Replaces the API's headers (set at the root) with the pages' own.
      reply.headers(headers);
      done();
    });
    app.addHook('onRequest', sessionHook);
    app.setErrorHandler((error: FastifyError, request, reply) => renderError(kit, error, request, reply));

    app.get(`${ASSETS_PREFIX}:file`, { schema: { hide: true } }, async (request, reply) => {
      const asset = assets.get((request.params as { file: string }).file);
      if (asset === undefined) {
        reply.header('cache-control', 'no-store');
        return kit.render(request, reply, { status: 404, title: 'Not found', main: errorMain('Page not found', 'There is nothing at this address.') });
      }
      // The name carries a hash of the content: it never changes, so it may be kept a year.
      return reply.header('cache-control', 'public, max-age=31536000, immutable').type(asset.type).send(asset.body);
    });

    await app.register(homePage({ kit }));
    await app.register(signInPages({ ...deps, kit }));
    await app.register(confirmPage({ ...deps, kit }));
    await app.register(passwordResetPages({ ...deps, kit }));
    await app.register(verifyEmailPages({ ...deps, kit }));
    await app.register(accountPage({ ...deps, kit }));
    await app.register(passwordPage({ ...deps, kit, minPasswordLength: config.passwords.minLength }));
    await app.register(sessionsPage({ ...deps, kit }));
    await app.register(passkeyPages({ ...deps, kit }));
    await app.register(twoFactorPages({ ...deps, kit }));
    await app.register(managePages({ ...deps, kit, appsOn: deps.oidc !== null }));
    await app.register(qrSignInPages({ ...deps, kit }));
    await app.register(qrApprovePages({ ...deps, kit }));
    await app.register(badgePages({ kit, qr: deps.qr, verifier: deps.badges }));
    await app.register(checkPages({ kit, verifier: deps.badges, scanner: deps.scanner }));
    await app.register(teachPages({ kit, attendance: deps.attendance }));
    await app.register(sessionPages({ kit, attendance: deps.attendance, images: createQrImages(), publicUrl: config.mail.publicUrl }));
    await app.register(attendPages({ kit, attendance: deps.attendance }));
    if (deps.oidc !== null) {
      await app.register(oidcInteractionPages({ ...deps.oidc, kit }));
      await app.register(appsPages({ kit, clients: deps.oidc.clients, nav: manageNav('apps', { outbox: deps.outbox !== null, apps: true }) }));
    }
  };

  return {
    plugin,
    routes,
    async notFound(request, reply) {
      // Outside the pages' scope: the cookie header is read here, so the page knows who is signed in.
      request.cookies = fastifyCookie.parse(request.headers.cookie ?? '');
      reply.headers(headers);
      await sessionHook(request, reply);
      return kit.render(request, reply, { status: 404, title: 'Not found', main: errorMain('Page not found', 'There is nothing at this address. Check it, or start again.') });
    },
  };
}

/** Errors on a page, as a page: what happened, in the same look, never internal text. */
function renderError(kit: WebKit, error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof AppError) {
    if (error.statusCode === 429) {
      reply.headers(error.headers);
      const seconds = Number(error.headers['Retry-After'] ?? 60);
      return kit.render(request, reply, {
        status: 429,
        title: 'Too many requests',
        main: errorMain('Too many requests', `Please wait ${seconds} second${seconds === 1 ? '' : 's'} and try again.`),
      });
    }
    if (error.code === 'CSRF_FAILED') {
      return kit.render(request, reply, {
        status: 403,
        title: 'Form expired',
        main: errorMain('This form cannot be sent', error.detail, { href: request.url, label: 'Reload the page' }),
      });
    }
    return kit.render(request, reply, { status: error.statusCode, title: 'Something is not right', main: errorMain('Something is not right', error.detail) });
  }
  if (error instanceof StoreUnavailable) {
    request.log.error({ err: error }, 'database unavailable');
    reply.header('retry-after', '5');
    return kit.render(request, reply, {
      status: 503,
      title: 'Unavailable',
      main: errorMain('Not available right now', 'The service cannot reach its database. Try again in a few seconds.'),
    });
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const message =
      status === 413 ? 'What you sent is too large.' : status === 415 ? 'This form was sent in a way the page does not read.' : 'The request could not be read.';
    return kit.render(request, reply, { status, title: 'Cannot read the request', main: errorMain('Cannot read the request', message) });
  }
  request.log.error({ err: error }, 'unhandled error on a page');
  return kit.render(request, reply, {
    status: 500,
    title: 'Something went wrong',
    main: html`<h1>Something went wrong</h1><p>The service could not show this page. Try again; if it keeps happening, tell an administrator (reference <code>${request.id}</code>).</p><p><a href="/">Go to the start page</a></p>`,
  });
}
