/**
 * Sign in by QR, the "other screen" (a TV, a shared computer): /sign-in/qr shows the QR of a new
 * request (auth/qr-login/qr-login.ts, as POST /auth/qr-login/start), and the browser finishes by itself once
 * a phone approves it: POST /sign-in/qr/collect collects a browser session, as POST
 * /auth/qr-login/{id} collects the API's tokens.
 *
 * The request's secret lives only in an HttpOnly cookie ('qrl'): never in the page, the URL or a
 * script's reach, so neither a script nor a log can take it, and whoever photographs the QR has the
 * id alone.
 *
 * Finishing by itself: the qr-login-wait island polls GET /sign-in/qr/status (a small JSON read of
 * the cookie's request, which changes nothing) every `interval` seconds, as RFC 8628 clients poll,
 * then submits the page's own "continue" form. Polling rather than server-sent events: an approval
 * may land on any instance and the service announces none (it is a row in the store), so an event
 * stream would only move the same polling into the server while holding a connection open per
 * screen; a 2-second poll of one indexed row costs less, and passes every proxy. Without script the
 * same form is a button ("I approved it on my phone — continue"). No <meta http-equiv="refresh">:
 * CSP does not govern it, but a timed reload is what WCAG 2.2.1 (axe's meta-refresh rule) forbids,
 * and each reload would take the focus back to the top of the page.
 *
 * The page routes share the API's per-IP limit (rule 'qr-login-ip', http/rate-limits.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MFA_CHALLENGE_TTL_SECONDS } from '../../auth/login/login-flow.js';
import { QR_LOGIN_ID_RE, type QrLoginService, type QrLoginStatus } from '../../auth/qr-login/qr-login.js';
import type { SessionService } from '../../auth/sessions/session-service.js';
import { AppError } from '../../errors.js';
import { requestContext } from '../../http/request-context.js';
import { duration } from '../duration.js';
import { csrfInput, notice, textField } from '../forms.js';
import { html, raw, type SafeHtml } from '../html.js';
import { safeNext, webContext, type WebKit } from '../web-kit.js';
import { clearCookie, readCookie, setCookie, startBrowserSession } from '../web-session.js';

export interface QrSignInDeps {
  kit: WebKit;
  qrLogin: QrLoginService;
  sessions: SessionService;
}

/** The cookie's value: the request's id and secret (both base64url, so the dot cannot occur in them). */
const HELD_RE = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

interface Held {
  id: string;
  secret: string;
}

/** The request this browser started, from its cookie; anything malformed counts as none. */
function heldRequest(request: FastifyRequest): Held | null {
  const match = HELD_RE.exec(readCookie(request, 'qrl') ?? '');
  if (match === null || !QR_LOGIN_ID_RE.test(match[1] as string)) return null;
  return { id: match[1] as string, secret: match[2] as string };
}

/** The answers that mean "this request is over for this browser": unknown, expired, used, or not its secret. */
const isGone = (error: unknown) =>
  error instanceof AppError && (error.code === 'QR_LOGIN_NOT_FOUND' || error.code === 'QR_LOGIN_SECRET_MISMATCH');

export function qrSignInPages(deps: QrSignInDeps) {
  const { kit, qrLogin, sessions } = deps;

  const nextQuery = (next: string) => (next === '/' ? '' : `?next=${encodeURIComponent(next)}`);

  /** The page with the QR: waiting for the phone (or told it was approved, finishing). */
  function waitingPage(
    request: FastifyRequest,
    reply: FastifyReply,
    state: { id: string; status: QrLoginStatus; next: string; message?: SafeHtml; httpStatus?: number },
  ) {
    const { qr_svg: svg } = qrLogin.qrCode(state.id);
    const pending = state.status.status === 'pending' ? state.status : null;
    // Approved already (a reload): the island looks at once, then continues.
    const interval = pending?.interval ?? 0;
    const form = html`<form method="post" action="/sign-in/qr/collect" data-qr-wait="/sign-in/qr/status" data-interval="${interval}">
  ${csrfInput(kit.csrfToken(request, reply))}
  <input type="hidden" name="next" value="${state.next}">
  <button type="submit">I approved it on my phone — continue</button>
</form>`;
    const main = html`<h1>Sign in with your phone</h1>
${state.message ?? ''}
<div class="qrl-screen">
  <div class="qr qrl-code" role="img" aria-label="QR code to scan with your phone">${raw(svg)}</div>
  <div class="qrl-side">
    <ol class="qrl-steps">
      <li>Point your phone's camera at the code.</li>
      <li>Open the link it finds, and sign in there if it asks.</li>
      <li>Check that it describes this screen, then choose <strong>Approve</strong>.</li>
    </ol>
    ${
      pending === null
        ? html`<p id="qrl-status" role="status">Approved on your phone: continue to sign in.</p>`
        : html`<p>The code expires in <span id="qrl-left">${duration(pending.expires_in)}</span>.</p>
    <p id="qrl-status" role="status">This page continues by itself once you approve.</p>`
    }
    ${form}
    <p><a href="/sign-in${nextQuery(state.next)}">Sign in with a password instead</a></p>
  </div>
</div>`;
    return kit.render(request, reply, { title: 'Sign in with your phone', main, islands: ['qr-login-wait.js'], status: state.httpStatus });
  }

  /** The end of a request that did not sign anyone in: what happened, and a new code. */
  function endedPage(request: FastifyRequest, reply: FastifyReply, how: 'denied' | 'expired' | 'disabled', next: string) {
    const again = html`<p><a class="button" href="/sign-in/qr${nextQuery(next)}">Show a new code</a></p>
<p><a href="/sign-in${nextQuery(next)}">Sign in with a password instead</a></p>`;
    const view = {
      denied: {
        title: 'Sign-in denied',
        status: 403,
        body: html`${notice('warning', 'The phone denied this sign-in.')}
<p>If that was a mistake, start again with a new code.</p>`,
      },
      expired: {
        title: 'The code expired',
        status: 410,
        body: html`<p>This sign-in is over: its code lasts two minutes and works once. Get a new code and scan it.</p>`,
      },
      disabled: {
        title: 'Account disabled',
        status: 403,
        body: html`<p>The account that approved this sign-in is disabled. Ask an administrator.</p>`,
      },
    }[how];
    return kit.render(request, reply, { title: view.title, main: html`<h1>${view.title}</h1>\n${view.body}\n${again}`, status: view.status });
  }

  /** A new request: its secret goes into the cookie only. */
  async function startNew(request: FastifyRequest, reply: FastifyReply, next: string) {
    const started = await qrLogin.start(requestContext(request));
    setCookie(request, reply, 'qrl', `${started.id}.${started.secret}`, started.expires_in);
    const status: QrLoginStatus = { status: 'pending', expires_in: started.expires_in, interval: started.interval };
    return waitingPage(request, reply, { id: started.id, status, next });
  }

  return async (app: FastifyInstance) => {
    kit.get(app, '/sign-in/qr', async (request, reply) => {
      const next = safeNext((request.query as Record<string, unknown>).next);
      if (webContext(request).user !== null) return kit.redirect(reply, next);
      // A reload shows the same request again (the phone may have scanned it already).
      const held = heldRequest(request);
      if (held !== null) {
        try {
          const status = await qrLogin.status(held.id, held.secret);
          if (status.status !== 'denied') return waitingPage(request, reply, { id: held.id, status, next });
          clearCookie(request, reply, 'qrl');
          return endedPage(request, reply, 'denied', next);
        } catch (error) {
          if (!isGone(error)) throw error;
        }
      }
      return startNew(request, reply, next);
    });

    kit.get(app, '/sign-in/qr/status', async (request, reply) => {
      reply.type('application/json; charset=utf-8');
      const held = heldRequest(request);
      if (held === null) return { status: 'expired' };
      try {
        return await qrLogin.status(held.id, held.secret);
      } catch (error) {
        if (isGone(error)) return { status: 'expired' };
        throw error;
      }
    });

    kit.post(app, '/sign-in/qr/collect', async (request, reply) => {
      const next = safeNext(textField(request.body, 'next'));
      const held = heldRequest(request);
      if (held === null) {
        clearCookie(request, reply, 'qrl');
        return endedPage(request, reply, 'expired', next);
      }
      const context = requestContext(request);
      try {
        const result = await qrLogin.collect(held.id, held.secret, context, sessions.browser);
        if (result.status === 'pending') {
          const message = notice('warning', 'Not approved yet: scan the code with your phone and approve there, then continue.');
          return waitingPage(request, reply, { id: held.id, status: result, next, message });
        }
        clearCookie(request, reply, 'qrl');
        if (result.status === 'denied') return endedPage(request, reply, 'denied', next);
        const web = webContext(request);
        await startBrowserSession(request, reply, result.signedIn, async (old) => {
          if (web.user !== null) await sessions.end(web.user, old.id, context);
        });
        return kit.redirect(reply, next);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        if (error.code === 'MFA_REQUIRED') {
          // The approval signed nobody in yet: the second factor is typed here, as after a password.
          clearCookie(request, reply, 'qrl');
          setCookie(request, reply, 'mfa', String(error.extra.mfa_token), MFA_CHALLENGE_TTL_SECONDS);
          return kit.redirect(reply, `/sign-in/code${nextQuery(next)}`);
        }
        if (isGone(error)) {
          clearCookie(request, reply, 'qrl');
          return endedPage(request, reply, 'expired', next);
        }
        if (error.code === 'ACCOUNT_DISABLED') {
          clearCookie(request, reply, 'qrl');
          return endedPage(request, reply, 'disabled', next);
        }
        throw error;
      }
    });
  };
}
