/**
 * /account: the profile (username, full name: PATCH /users/{id} as the user themself), the email
 * and its verification (POST /auth/verify-email/request), the role, and the way to the other
 * account pages; /account/email: moving the account to another address (POST /users/me/email).
 * The same services and limits as those routes (http/rate-limits.ts lists these pages too).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { EmailVerificationService } from '../../auth/recovery/email-verification-service.js';
import { AppError, ValidationFailed } from '../../errors.js';
import { requestContext } from '../../http/request-context.js';
import type { User } from '../../store/store.js';
import type { UserService } from '../../users/user-service.js';
import { csrfInput, errorSummary, field, type FieldError, notice, textField, titleWithErrors } from '../forms.js';
import { html, type SafeHtml } from '../html.js';
import type { WebKit } from '../web-kit.js';
import { fieldErrors } from './sign-in-pages.js';
import { backToAccount, waitMessage } from './account-views.js';

export interface AccountPageDeps {
  kit: WebKit;
  users: UserService;
  emailVerification: EmailVerificationService;
}

/** What /account says after a change (its `done` parameter): the outcome of the form just sent. */
const DONE: Record<string, (user: User) => SafeHtml> = {
  profile: () => notice('success', 'Your profile is saved.'),
  sent: (user) => notice('success', html`We sent a new link to <strong>${user.email}</strong>. Open it to confirm the address.`),
  verified: () => notice('info', 'Your email address is confirmed already: there is nothing to send.'),
  email: (user) =>
    notice('success', html`Your email is now <strong>${user.email}</strong>. We sent a link there to confirm it, and a notice to the old address.`),
  password: () => notice('success', 'Your password is changed. Every other browser and app signed in to your account is signed out.'),
};

const ROLE_NAMES: Record<User['role'], string> = { student: 'Student', teacher: 'Teacher', admin: 'Administrator' };

export function accountPage(deps: AccountPageDeps) {
  const { kit, users, emailVerification } = deps;

  function overview(
    request: FastifyRequest,
    reply: FastifyReply,
    user: User,
    state: { values?: { username: string; full_name: string }; errors?: FieldError[]; status?: number; message?: SafeHtml } = {},
  ) {
    const errors = state.errors ?? [];
    const values = state.values ?? { username: user.username, full_name: user.fullName ?? '' };
    const csrf = csrfInput(kit.csrfToken(request, reply));
    const main = html`<h1>Your account</h1>
${state.message ?? ''}
${errorSummary(errors)}
<section class="card" aria-labelledby="profile-title">
  <h2 id="profile-title">Profile</h2>
  <form method="post" action="/account/profile" novalidate>
    ${csrf}
    ${field({ name: 'username', label: 'Username', value: values.username, autocomplete: 'username', required: true, spellcheck: false, errors, hint: '3 to 50 letters, digits, dots, dashes or underscores; you can sign in with it' })}
    ${field({ name: 'full_name', label: 'Full name', value: values.full_name, autocomplete: 'name', errors, hint: 'Optional: how teachers and staff see you' })}
    <div class="actions"><button type="submit">Save the profile</button></div>
  </form>
</section>
<section class="card" aria-labelledby="email-title">
  <h2 id="email-title">Email</h2>
  <dl class="facts">
    <dt>Address</dt><dd>${user.email}</dd>
    <dt>Status</dt><dd>${user.emailVerified ? 'Confirmed' : html`<strong>Not confirmed yet</strong>`}</dd>
  </dl>
  ${user.emailVerified
    ? ''
    : html`<p>Open the link we mailed to this address to confirm that it is yours. No mail, or the link is too old?</p>
  <form method="post" action="/account/verify-email">
    ${csrf}
    <button type="submit" class="secondary">Send the link again</button>
  </form>`}
  <p><a href="/account/email">Change your email</a></p>
</section>
<section class="card" aria-labelledby="security-title">
  <h2 id="security-title">Security</h2>
  <dl class="facts">
    <dt>Role</dt><dd>${ROLE_NAMES[user.role]}</dd>
    <dt>Two-factor authentication</dt><dd>${user.totpEnabled ? 'On' : 'Off'}</dd>
  </dl>
  <ul class="links">
    <li><a href="/account/password">Change your password</a></li>
    <li><a href="/account/2fa">Two-factor authentication</a></li>
    <li><a href="/account/passkeys">Passkeys</a></li>
    <li><a href="/account/sessions">Where you are signed in</a></li>
  </ul>
</section>`;
    return kit.render(request, reply, { title: titleWithErrors('Your account', errors), main, status: state.status });
  }

  function emailForm(
    request: FastifyRequest,
    reply: FastifyReply,
    user: User,
    state: { email?: string; errors?: FieldError[]; status?: number } = {},
  ) {
    const errors = state.errors ?? [];
    const main = html`${backToAccount}
<h1>Change your email</h1>
${errorSummary(errors)}
<p>Your account uses <strong>${user.email}</strong>. We will send a link to the new address to confirm it, and a notice to this one.</p>
<form method="post" action="/account/email" novalidate>
  ${csrfInput(kit.csrfToken(request, reply))}
  <input type="hidden" name="username" value="${user.username}" autocomplete="username">
  ${field({ name: 'email', label: 'New email address', type: 'email', value: state.email, autocomplete: 'email', required: true, spellcheck: false, errors, autofocus: errors.length === 0 })}
  ${field({ name: 'password', label: 'Your password', type: 'password', autocomplete: 'current-password', required: true, errors, hint: 'Typed again, so that nobody else at this screen can move your account away' })}
  <div class="actions"><button type="submit">Change the email</button><a href="/account">Cancel</a></div>
</form>`;
    return kit.render(request, reply, { title: titleWithErrors('Change your email', errors), main, narrow: true, status: state.status });
  }

  return async (app: FastifyInstance) => {
    kit.get(app, '/account', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const done = (request.query as Record<string, unknown>).done;
      const message = typeof done === 'string' && Object.hasOwn(DONE, done) ? DONE[done]?.(user) : undefined;
      return overview(request, reply, user, { message });
    });

    kit.post(app, '/account/profile', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const values = { username: textField(request.body, 'username'), full_name: textField(request.body, 'full_name') };
      if (values.username === '') {
        return overview(request, reply, user, { values, errors: [{ field: 'username', message: 'Enter a username' }], status: 422 });
      }
      try {
        await users.update(
          user,
          user.id,
          { username: values.username, fullName: values.full_name === '' ? null : values.full_name },
          requestContext(request),
        );
        return kit.redirect(reply, '/account?done=profile');
      } catch (error) {
        if (error instanceof ValidationFailed) return overview(request, reply, user, { values, errors: fieldErrors(error), status: 422 });
        if (error instanceof AppError && error.code === 'USER_EXISTS') {
          const errors = [{ field: 'username', message: 'Another account has this username. Pick another.' }];
          return overview(request, reply, user, { values, errors, status: 400 });
        }
        throw error;
      }
    });

    kit.post(app, '/account/verify-email', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      try {
        await emailVerification.request(user, requestContext(request));
        return kit.redirect(reply, '/account?done=sent');
      } catch (error) {
        if (error instanceof AppError && error.code === 'EMAIL_ALREADY_VERIFIED') return kit.redirect(reply, '/account?done=verified');
        throw error;
      }
    });

    kit.get(app, '/account/email', async (request, reply) => {
      const user = kit.requireFresh(request, reply);
      if (user === null) return reply;
      return emailForm(request, reply, user);
    });

    kit.post(app, '/account/email', async (request, reply) => {
      const user = kit.requireFresh(request, reply, '/account/email');
      if (user === null) return reply;
      const email = textField(request.body, 'email');
      const password = textField(request.body, 'password', { keepSpaces: true });
      const missing: FieldError[] = [];
      if (email === '') missing.push({ field: 'email', message: 'Enter the new email address' });
      if (password === '') missing.push({ field: 'password', message: 'Enter your password' });
      if (missing.length > 0) return emailForm(request, reply, user, { email, errors: missing, status: 422 });
      try {
        await users.changeOwnEmail(user, { email, password }, requestContext(request));
        return kit.redirect(reply, '/account?done=email');
      } catch (error) {
        if (error instanceof ValidationFailed) {
          const errors = fieldErrors(error).map((e) =>
            e.field === 'email' && e.message === 'value is not a valid email address' ? { ...e, message: 'Enter an email address like name@example.com' } : e,
          );
          return emailForm(request, reply, user, { email, errors, status: 422 });
        }
        if (!(error instanceof AppError)) throw error;
        if (error.code === 'INVALID_PASSWORD') {
          return emailForm(request, reply, user, { email, errors: [{ field: 'password', message: 'That password is not right' }], status: 403 });
        }
        if (error.code === 'USER_EXISTS') {
          return emailForm(request, reply, user, { email, errors: [{ field: 'email', message: 'Another account uses this address' }], status: 400 });
        }
        if (error.statusCode === 429) {
          return emailForm(request, reply, user, { email, errors: [{ field: '', message: waitMessage(error) }], status: 429 });
        }
        throw error;
      }
    });
  };
}
