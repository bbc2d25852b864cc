/**
 * /account/password: a signed-in password change (the service of POST /users/me/password, its
 * limits and lock). This browser stays signed in; every other session, browser or app, ends at once.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PasswordService } from '../../auth/recovery/password-service.js';
import { AppError, ValidationFailed } from '../../errors.js';
import { requestContext } from '../../http/request-context.js';
import type { User } from '../../store/store.js';
import { csrfInput, errorSummary, field, type FieldError, textField, titleWithErrors } from '../forms.js';
import { html } from '../html.js';
import { webContext, type WebKit } from '../web-kit.js';
import { backToAccount, waitMessage } from './account-views.js';
import { fieldErrors } from './sign-in-pages.js';

export interface PasswordPageDeps {
  kit: WebKit;
  passwordService: PasswordService;
  /** The shortest new password the service takes (said in the hint). */
  minPasswordLength: number;
}

export function passwordPage(deps: PasswordPageDeps) {
  const { kit, passwordService, minPasswordLength } = deps;

  function form(request: FastifyRequest, reply: FastifyReply, user: User, errors: FieldError[] = [], status = 200) {
    const main = html`${backToAccount}
<h1>Change your password</h1>
${errorSummary(errors)}
<p>This browser stays signed in. Every other browser and app signed in to your account is signed out.</p>
<form method="post" action="/account/password" novalidate>
  ${csrfInput(kit.csrfToken(request, reply))}
  <input type="hidden" name="username" value="${user.username}" autocomplete="username">
  ${field({ name: 'current_password', label: 'Current password', type: 'password', autocomplete: 'current-password', required: true, errors, autofocus: errors.length === 0 })}
  ${field({ name: 'new_password', label: 'New password', type: 'password', autocomplete: 'new-password', required: true, errors, hint: `At least ${minPasswordLength} characters; a few words you can remember make a good one` })}
  <div class="actions"><button type="submit">Change the password</button><a href="/account">Cancel</a></div>
</form>`;
    return kit.render(request, reply, { title: titleWithErrors('Change your password', errors), main, narrow: true, status });
  }

  return async (app: FastifyInstance) => {
    kit.get(app, '/account/password', async (request, reply) => {
      const user = kit.requireFresh(request, reply);
      if (user === null) return reply;
      return form(request, reply, user);
    });

    kit.post(app, '/account/password', async (request, reply) => {
      const user = kit.requireFresh(request, reply, '/account/password');
      if (user === null) return reply;
      const currentPassword = textField(request.body, 'current_password', { keepSpaces: true });
      const newPassword = textField(request.body, 'new_password', { keepSpaces: true });
      const missing: FieldError[] = [];
      if (currentPassword === '') missing.push({ field: 'current_password', message: 'Enter your current password' });
      if (newPassword === '') missing.push({ field: 'new_password', message: 'Choose a new password' });
      if (missing.length > 0) return form(request, reply, user, missing, 422);
      try {
        // This browser's session is the one kept; every other ends, and every access token with it.
        await passwordService.change(user, webContext(request).session?.id, { currentPassword, newPassword }, requestContext(request));
        return kit.redirect(reply, '/account?done=password');
      } catch (error) {
        if (error instanceof ValidationFailed) return form(request, reply, user, fieldErrors(error), 422);
        if (!(error instanceof AppError)) throw error;
        if (error.code === 'INVALID_CURRENT_PASSWORD') {
          return form(request, reply, user, [{ field: 'current_password', message: 'That password is not right' }], 403);
        }
        if (error.statusCode === 429) return form(request, reply, user, [{ field: '', message: waitMessage(error) }], 429);
        throw error;
      }
    });
  };
}
