/**
 * /verify-email: the link in the verification mail (the same service as POST
 * /auth/verify-email/confirm), and a new link for the signed-in user (POST /verify-email, the same
 * service and limit as POST /auth/verify-email/request).
 *
 * Opening the link confirms at once, as the issue asks. A mail scanner that fetches links first
 * would use it up; the page for a used link therefore tells a signed-in user whose address is
 * confirmed that all is well, and tells anyone else that an opened link may have done its work.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type EmailVerificationService, VERIFY_TOKEN_TTL_SECONDS } from '../../auth/recovery/email-verification-service.js';
import { AppError } from '../../errors.js';
import { requestContext } from '../../http/request-context.js';
import type { User } from '../../store/store.js';
import { csrfInput, notice } from '../forms.js';
import { html, type SafeHtml } from '../html.js';
import { webContext, type WebKit } from '../web-kit.js';

const TTL_HOURS = VERIFY_TOKEN_TTL_SECONDS / 3600;
const SIGN_IN_FIRST = `/sign-in?next=${encodeURIComponent('/verify-email')}`;

export function verifyEmailPages(deps: { kit: WebKit; emailVerification: EmailVerificationService }) {
  const { kit, emailVerification } = deps;

  function resendForm(request: FastifyRequest, reply: FastifyReply): SafeHtml {
    return html`<form method="post" action="/verify-email">
  ${csrfInput(kit.csrfToken(request, reply))}
  <div class="actions"><button type="submit">Send a new link</button></div>
</form>`;
  }

  /** Nothing left to do: the signed-in user's address is confirmed. */
  const confirmedAlready = (user: User) =>
    html`<p>Your email address <strong>${user.email}</strong> is confirmed: there is nothing more to do.</p>
<p><a href="/account">Go to your account</a></p>`;

  function verified(request: FastifyRequest, reply: FastifyReply, verifiedUser: User) {
    const user = webContext(request).user;
    const next =
      user === null
        ? html`<p><a class="button" href="/sign-in">Sign in</a></p>`
        : user.id === verifiedUser.id
          ? html`<p><a href="/account">Go to your account</a></p>`
          : html`<p><a href="/">Go to the start page</a></p>`;
    const main = html`<h1>Your email address is confirmed</h1>
${notice('success', html`<strong>${verifiedUser.email}</strong> is confirmed. Thank you.`)}
${next}`;
    return kit.render(request, reply, { title: 'Email address confirmed', main, narrow: true });
  }

  function linkUsed(request: FastifyRequest, reply: FastifyReply) {
    const user = webContext(request).user;
    const rest =
      user === null
        ? html`<p>If you opened it before, your address is confirmed already. To get a new link, sign in first: you will come back here.</p>
<p><a class="button" href="${SIGN_IN_FIRST}">Sign in</a></p>`
        : user.emailVerified
          ? confirmedAlready(user)
          : html`<p>A confirmation link works once, for ${TTL_HOURS} hours, and only the latest one we sent works. Ask for a new one, to <strong>${user.email}</strong>:</p>
${resendForm(request, reply)}`;
    const main = html`<h1>This link was used already or has expired</h1>
${rest}`;
    return kit.render(request, reply, { title: 'Link used or expired', main, narrow: true, status: 400 });
  }

  /** /verify-email without a token: a new link for the signed-in user, or the way there. */
  function status(request: FastifyRequest, reply: FastifyReply, sent: boolean) {
    const user = webContext(request).user;
    if (user !== null && user.emailVerified) {
      const main = html`<h1>Your email address is confirmed</h1>
${confirmedAlready(user)}`;
      return kit.render(request, reply, { title: 'Email address confirmed', main, narrow: true });
    }
    const main =
      user === null
        ? html`<h1>Confirm your email address</h1>
<p>Open the link in the mail we sent you. To get a new link, sign in first: you will come back here.</p>
<p><a class="button" href="${SIGN_IN_FIRST}">Sign in</a></p>`
        : html`<h1>Confirm your email address</h1>
${
  sent
    ? notice('success', html`We sent a new link to <strong>${user.email}</strong>. Open it within ${TTL_HOURS} hours; it works once.`)
    : html`<p>Open the link in the mail we sent to <strong>${user.email}</strong>. Lost it, or did it expire? Ask for a new one.</p>`
}
${resendForm(request, reply)}
<p><a href="/account">Go to your account</a></p>`;
    return kit.render(request, reply, { title: 'Confirm your email address', main, narrow: true });
  }

  return async (app: FastifyInstance) => {
    kit.get(app, '/verify-email', async (request, reply) => {
      const query = request.query as Record<string, unknown>;
      if (query.token === undefined) return status(request, reply, query.sent === '1');
      // A repeated parameter (an array) or any other odd value is a link that does not work.
      const token = typeof query.token === 'string' ? query.token : '';
      try {
        return verified(request, reply, await emailVerification.confirm(token, requestContext(request)));
      } catch (error) {
        if (error instanceof AppError && error.code === 'INVALID_VERIFICATION_TOKEN') return linkUsed(request, reply);
        throw error;
      }
    });

    kit.post(app, '/verify-email', async (request, reply) => {
      const user = webContext(request).user;
      if (user === null) return kit.redirect(reply, SIGN_IN_FIRST);
      try {
        await emailVerification.request(user, requestContext(request));
      } catch (error) {
        // Confirmed meanwhile (in another tab): the page says so.
        if (error instanceof AppError && error.code === 'EMAIL_ALREADY_VERIFIED') return kit.redirect(reply, '/verify-email');
        throw error;
      }
      return kit.redirect(reply, '/verify-email?sent=1');
    });
  };
}
