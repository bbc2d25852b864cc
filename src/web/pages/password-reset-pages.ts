/**
 * A forgotten password: /forgot-password (the address; the same answer whether or not an account
 * has it) and /reset-password (the link in the mail, then a new password). The same service as
 * POST /auth/password-reset/request and /confirm, with the same limits (http/rate-limits.ts lists
 * these routes too).
 *
 * The mailed link carries its token in the query. Opening it stores the token in a short-lived
 * HttpOnly cookie and redirects to /reset-password without the query, so the token does not stay
 * in the address bar or the history, is not sent as Referer, and is not in the page (no script
 * could read it). Opening the link only looks the token up: a mail scanner that fetches links
 * uses nothing up; the new password does.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LINK_TOKEN_RE } from '../../auth/recovery/one-time-links.js';
import { type PasswordService, RESET_TOKEN_TTL_SECONDS } from '../../auth/recovery/password-service.js';
import type { SessionService } from '../../auth/sessions/session-service.js';
import type { Config } from '../../config.js';
import { AppError, ValidationFailed } from '../../errors.js';
import { requestContext } from '../../http/request-context.js';
import { csrfInput, errorSummary, field, type FieldError, notice, textField, titleWithErrors } from '../forms.js';
import { html, type SafeHtml } from '../html.js';
import { webContext, type WebKit } from '../web-kit.js';
import { clearCookie, readCookie, setCookie } from '../web-session.js';
import { fieldErrors } from './sign-in-pages.js';

export interface PasswordResetDeps {
  kit: WebKit;
  config: Config;
  passwordService: PasswordService;
  sessions: SessionService;
}

/** The opened link's token waits in the 'rst' cookie (web-session.ts), never in the address bar. */
function readResetToken(request: FastifyRequest): string | undefined {
  const value = readCookie(request, 'rst');
  return value !== undefined && LINK_TOKEN_RE.test(value) ? value : undefined;
}

function clearResetToken(request: FastifyRequest, reply: FastifyReply): void {
  if (readCookie(request, 'rst') !== undefined) clearCookie(request, reply, 'rst');
}

/** An address worth putting back in a form (what the service accepts at most), else nothing. */
const prefill = (value: string) => (value.length <= 254 ? value : '');

const TTL_MINUTES = RESET_TOKEN_TTL_SECONDS / 60;

export function passwordResetPages(deps: PasswordResetDeps) {
  const { kit, config, passwordService, sessions } = deps;
  const minLength = config.passwords.minLength;
  // A newcomer running it locally has no mail server: say where the mail went instead.
  const devOutbox =
    config.nodeEnv !== 'production' && config.mail.smtpUrl === null
      ? html`<p class="muted">Development: no mail server is set (<code>SMTP_URL</code>), so mails are not sent. The server's log shows them, and an admin can read them at <code>GET /admin/outbox</code>.</p>`
      : '';

  function forgotForm(request: FastifyRequest, reply: FastifyReply, email: string, errors: readonly FieldError[], button = 'Send the link'): SafeHtml {
    return html`<form method="post" action="/forgot-password" novalidate>
  ${csrfInput(kit.csrfToken(request, reply))}
  ${field({ name: 'email', label: 'Email', type: 'email', value: email, autocomplete: 'email', required: true, spellcheck: false, errors, autofocus: errors.length > 0 })}
  <div class="actions"><button type="submit">${button}</button></div>
</form>`;
  }

  function forgotPage(request: FastifyRequest, reply: FastifyReply, state: { email?: string; errors?: FieldError[]; status?: number }) {
    const errors = state.errors ?? [];
    const main = html`<h1>Forgot your password?</h1>
${errorSummary(errors)}
<p>Type the email address of your account. We will send you a link to choose a new password.</p>
${forgotForm(request, reply, state.email ?? '', errors)}
<p><a href="/sign-in">Back to sign in</a></p>`;
    return kit.render(request, reply, { title: titleWithErrors('Forgot your password?', errors), main, narrow: true, status: state.status });
  }

  /** A link that cannot be used (any more): what happened, and a new one a click away. */
  function linkExpired(request: FastifyRequest, reply: FastifyReply, email: string) {
    clearResetToken(request, reply);
    const main = html`<h1>This link was used already or has expired</h1>
<p>A password reset link works once, for ${TTL_MINUTES} minutes, and only the latest one we sent works. Ask for a new one:</p>
${forgotForm(request, reply, email, [], 'Send a new link')}
<p><a href="/sign-in">Back to sign in</a></p>`;
    return kit.render(request, reply, { title: 'Link used or expired', main, narrow: true, status: 400 });
  }

  function resetForm(request: FastifyRequest, reply: FastifyReply, state: { email: string; errors?: FieldError[]; status?: number }) {
    const errors = state.errors ?? [];
    const main = html`<h1>Choose a new password</h1>
${errorSummary(errors)}
${state.email === '' ? '' : html`<p>For the account <strong>${state.email}</strong>.</p>`}
<form method="post" action="/reset-password" novalidate>
  ${csrfInput(kit.csrfToken(request, reply))}
  <input type="hidden" name="email" value="${state.email}" autocomplete="username">
  ${field({ name: 'password', label: 'New password', type: 'password', autocomplete: 'new-password', required: true, errors, autofocus: true, hint: `At least ${minLength} characters; a few words you can remember make a good one` })}
  <p>Every device signed in to this account will be signed out.</p>
  <div class="actions"><button type="submit">Change the password</button></div>
</form>`;
    return kit.render(request, reply, { title: titleWithErrors('Choose a new password', errors), main, narrow: true, status: state.status });
  }

  return async (app: FastifyInstance) => {
    kit.get(app, '/forgot-password', async (request, reply) => {
      const query = request.query as Record<string, unknown>;
      const email = typeof query.email === 'string' ? prefill(query.email.trim()) : (webContext(request).user?.email ?? '');
      return forgotPage(request, reply, { email });
    });

    kit.post(app, '/forgot-password', async (request, reply) => {
      const email = textField(request.body, 'email');
      if (email === '') return forgotPage(request, reply, { errors: [{ field: 'email', message: 'Enter your email address' }], status: 422 });
      try {
        passwordService.requestReset(email, requestContext(request));
      } catch (error) {
        if (!(error instanceof ValidationFailed)) throw error;
        const errors = [{ field: 'email', message: 'Enter an email address like name@example.com' }];
        return forgotPage(request, reply, { email: prefill(email), errors, status: 422 });
      }
      // One answer whether or not an account has this address: the page must not tell who has one.
      const main = html`<h1>Check your email</h1>
${notice('success', html`If an account has the address <strong>${email}</strong>, we sent a link to it.`)}
<p>Open the link within ${TTL_MINUTES} minutes to choose a new password. It works once; if you ask again, only the newest link works.</p>
<p>Nothing came? Look in the spam folder, check the address, or <a href="/forgot-password?email=${encodeURIComponent(email)}">ask again</a>.</p>
${devOutbox}
<p><a href="/sign-in">Back to sign in</a></p>`;
      return kit.render(request, reply, { title: 'Check your email', main, narrow: true });
    });

    kit.get(app, '/reset-password', async (request, reply) => {
      const query = request.query as Record<string, unknown>;
      if (query.token !== undefined) {
        // The link from the mail: its token moves into a cookie, and the address bar loses it.
        const token = query.token;
        if (typeof token === 'string' && LINK_TOKEN_RE.test(token)) {
          setCookie(request, reply, 'rst', token, RESET_TOKEN_TTL_SECONDS);
        } else {
          clearResetToken(request, reply);
        }
        return kit.redirect(reply, '/reset-password');
      }
      const token = readResetToken(request);
      const account = token === undefined ? null : await passwordService.checkResetToken(token);
      if (account === null) return linkExpired(request, reply, webContext(request).user?.email ?? '');
      return resetForm(request, reply, { email: account.email });
    });

    kit.post(app, '/reset-password', async (request, reply) => {
      // The account's address rides along only to fill forms again (and for password managers).
      const email = prefill(textField(request.body, 'email'));
      const token = readResetToken(request);
      if (token === undefined) return linkExpired(request, reply, email);
      const password = textField(request.body, 'password', { keepSpaces: true });
      if (password === '') return resetForm(request, reply, { email, errors: [{ field: 'password', message: 'Choose a new password' }], status: 422 });
      const context = requestContext(request);
      try {
        await passwordService.confirmReset(token, password, context);
      } catch (error) {
        // The rules are checked before the token is used: it still works for the next try.
        if (error instanceof ValidationFailed) return resetForm(request, reply, { email, errors: fieldErrors(error, { new_password: 'password' }), status: 422 });
        if (error instanceof AppError && error.code === 'INVALID_RESET_TOKEN') return linkExpired(request, reply, email);
        throw error;
      }
      clearResetToken(request, reply);
      // The reset signed every device of the account out; this browser too, whoever it was signed in as.
      const web = webContext(request);
      if (web.user !== null && web.session !== null && (await sessions.liveSession(web.user, web.session.id)) !== null) {
        await sessions.end(web.user, web.session.id, context);
      }
      clearCookie(request, reply, 'sid');
      return kit.redirect(reply, '/sign-in?reset=1');
    });
  };
}
