/**
 * Sign in by QR, the phone's side: /qr-login?id=… is what the QR of the other screen opens
 * (qr_data). Signed in here (or after signing in), the user sees which device asks (its user agent,
 * IP address, time and expiry) and a warning, then approves or denies: the same service calls as
 * GET /auth/qr-login/{id}/info, POST …/approve and …/deny, under the same per-user limit (rule
 * 'qr-login-user'). Approving needs this browser's live session; the other screen's new session
 * ends no later than it.
 *
 * The attack on every QR sign-in is someone sending you *their* code to approve (RFC 8628 §5.4):
 * hence the device's description before the buttons, and the warning above them.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { QR_LOGIN_ID_RE, type QrLoginRequestInfo, type QrLoginService } from '../../auth/qr-login/qr-login.js';
import { AppError } from '../../errors.js';
import { requestContext } from '../../http/request-context.js';
import { duration } from '../duration.js';
import { csrfInput, notice, textField } from '../forms.js';
import { html } from '../html.js';
import { errorMain, webContext, type WebKit } from '../web-kit.js';

const BROWSERS: [RegExp, string][] = [
  [/\bEdg(A|iOS)?\//, 'Edge'],
  [/\bOPR\/|\bOpera\b/, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\bFirefox\/|\bFxiOS\//, 'Firefox'],
  [/\bChrom(e|ium)\/|\bCriOS\//, 'Chrome'],
  [/\bSafari\//, 'Safari'],
];

const SMART_TV = 'a smart TV';

const SYSTEMS: [RegExp, string][] = [
  [/\b(Tizen|Web0S|webOS|SMART-TV|SmartTV|BRAVIA|AFT\w*)\b/, SMART_TV],
  [/\bWindows\b/, 'Windows'],
  [/\bAndroid\b/, 'Android'],
  [/\b(iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

/**
 * "Chrome on Linux", from a user agent, or null when it names nothing known. Only as true as the
 * device's own description: the page shows the whole string beside it.
 */
export function describeDevice(userAgent: string | null): string | null {
  if (userAgent === null) return null;
  const browser = BROWSERS.find(([re]) => re.test(userAgent))?.[1];
  const system = SYSTEMS.find(([re]) => re.test(userAgent))?.[1];
  if (browser !== undefined && system !== undefined) return `${browser} on ${system}`;
  if (browser !== undefined) return browser;
  if (system === undefined) return null;
  return system === SMART_TV ? 'A smart TV' : `A device running ${system}`;
}

/** "09:00:12 UTC": the phone's time zone is not known to the server, and the request is minutes old at most. */
const clockTime = (iso: string) => `${new Date(iso).toISOString().slice(11, 19)} UTC`;

export function qrApprovePages(deps: { kit: WebKit; qrLogin: QrLoginService }) {
  const { kit, qrLogin } = deps;

  /** Pages for a request that cannot be decided (any more): never the service's raw error. */
  function unavailable(request: FastifyRequest, reply: FastifyReply, why: 'gone' | 'decided' | 'session') {
    const view = {
      gone: {
        status: 404,
        heading: 'This sign-in request is not there',
        text: 'It expired (a code lasts two minutes), was already used, or the link is not complete. Show a new code on the other screen and scan that.',
      },
      decided: {
        status: 409,
        heading: 'This sign-in request was already answered',
        text: 'Someone approved or denied it already. To sign the other screen in, show a new code there and scan that.',
      },
      session: {
        status: 403,
        heading: 'Sign in again on this phone',
        text: 'Approving needs a live sign-in here. Sign in again, then scan the code once more.',
      },
    }[why];
    return kit.render(request, reply, { status: view.status, title: view.heading, main: errorMain(view.heading, view.text), narrow: true });
  }

  function approvalPage(request: FastifyRequest, reply: FastifyReply, info: QrLoginRequestInfo) {
    const user = webContext(request).user;
    const described = describeDevice(info.user_agent);
    const now = Date.now();
    const ago = Math.max(0, (now - Date.parse(info.created_at)) / 1000);
    const left = Math.max(0, (Date.parse(info.expires_at) - now) / 1000);
    const token = kit.csrfToken(request, reply);
    const main = html`<h1>Sign in on another screen?</h1>
${notice('warning', html`<strong>Only approve a screen you are standing at.</strong> Someone may have sent you their code to get into your account.`)}
<p class="lead">A device asks to be signed in as <strong>${user?.username ?? ''}</strong>. Is it the screen in front of you?</p>
<dl class="facts">
  <dt>Device</dt>
  <dd>${described === null ? '' : html`${described}<br>`}<span class="mono muted">${info.user_agent ?? 'It did not say.'}</span></dd>
  <dt>IP address</dt>
  <dd>${info.ip ?? 'Not known'}</dd>
  <dt>Asked at</dt>
  <dd><time datetime="${info.created_at}">${clockTime(info.created_at)}</time> (${duration(ago)} ago)</dd>
  <dt>Expires</dt>
  <dd>in ${duration(left)}</dd>
</dl>
<div class="actions">
  <form method="post" action="/qr-login/approve">
    ${csrfInput(token)}
    <input type="hidden" name="id" value="${info.id}">
    <button type="submit">Approve</button>
  </form>
  <form method="post" action="/qr-login/deny">
    ${csrfInput(token)}
    <input type="hidden" name="id" value="${info.id}">
    <button type="submit" class="secondary">Deny</button>
  </form>
</div>
<p class="muted">Approving signs that screen in as you, at most for as long as you stay signed in here. You can sign it out from your account at any time.</p>`;
    return kit.render(request, reply, { title: 'Sign in on another screen?', main, narrow: true });
  }

  /** The id of a form or a link: the service's shape, or nothing (a hostile value never reaches the store). */
  const idOf = (value: unknown): string | null => (typeof value === 'string' && QR_LOGIN_ID_RE.test(value) ? value : null);

  /** The service's answers that mean the request cannot be decided: a page, not an error. */
  function refusal(request: FastifyRequest, reply: FastifyReply, error: unknown) {
    if (!(error instanceof AppError)) throw error;
    if (error.code === 'QR_LOGIN_NOT_FOUND') return unavailable(request, reply, 'gone');
    if (error.code === 'QR_LOGIN_ALREADY_DECIDED') return unavailable(request, reply, 'decided');
    if (error.code === 'SESSION_REQUIRED') return unavailable(request, reply, 'session');
    throw error;
  }

  return async (app: FastifyInstance) => {
    kit.get(app, '/qr-login', async (request, reply) => {
      if (kit.requireUser(request, reply) === null) return reply;
      const id = idOf((request.query as Record<string, unknown>).id);
      if (id === null) return unavailable(request, reply, 'gone');
      try {
        const info = await qrLogin.info(id);
        if (info.status === 'denied') return unavailable(request, reply, 'decided');
        return approvalPage(request, reply, info);
      } catch (error) {
        return refusal(request, reply, error);
      }
    });

    kit.post(app, '/qr-login/approve', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const id = idOf(textField(request.body, 'id'));
      if (id === null) return unavailable(request, reply, 'gone');
      try {
        await qrLogin.approve(user, webContext(request).session?.id, id, requestContext(request));
      } catch (error) {
        return refusal(request, reply, error);
      }
      const main = html`<h1>Approved</h1>
${notice('success', 'The other screen is signing in as you now.')}
<p>Done with it? Sign it out there, or from your account, where every device you are signed in on is listed.</p>
<p><a href="/account">Go to your account</a></p>`;
      return kit.render(request, reply, { title: 'Approved', main, narrow: true });
    });

    kit.post(app, '/qr-login/deny', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const id = idOf(textField(request.body, 'id'));
      if (id === null) return unavailable(request, reply, 'gone');
      try {
        await qrLogin.deny(user, id, requestContext(request));
      } catch (error) {
        return refusal(request, reply, error);
      }
      const main = html`<h1>Denied</h1>
${notice('success', 'The other screen was told no. Nothing was shared with it.')}
<p>If someone sent you this code, they may be trying to get into your account: never approve a code you did not ask for yourself.</p>
<p><a href="/">Go to the start page</a></p>`;
      return kit.render(request, reply, { title: 'Denied', main, narrow: true });
    });
  };
}
