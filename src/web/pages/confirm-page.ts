/**
 * /account/confirm: the password again before a sensitive change (the password, two-factor
 * authentication, the email) when the sign-in is older than a few minutes (web-kit.ts
 * requireFresh). The same check, limits and lock as the API's re-authentication; on success the
 * browser gets a new session (a fresh id, so the confirmation cannot be replayed on the old one).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SessionService } from '../../auth/sessions/session-service.js';
import { AppError } from '../../errors.js';
import { requestContext } from '../../http/request-context.js';
import type { UserService } from '../../users/user-service.js';
import { csrfInput, errorSummary, field, type FieldError, textField, titleWithErrors } from '../forms.js';
import { html } from '../html.js';
import { safeNext, webContext, type WebKit } from '../web-kit.js';
import { startBrowserSession } from '../web-session.js';

export function confirmPage(deps: { kit: WebKit; users: UserService; sessions: SessionService }) {
  const { kit, users, sessions } = deps;

  function form(request: FastifyRequest, reply: FastifyReply, next: string, errors: FieldError[] = [], status = 200) {
    const user = webContext(request).user;
    const main = html`<h1>Confirm it is you</h1>
${errorSummary(errors)}
<p>Type your password again before changing your password, two-factor authentication, passkeys or email.</p>
<form method="post" action="/account/confirm" novalidate>
  ${csrfInput(kit.csrfToken(request, reply))}
  <input type="hidden" name="next" value="${next}">
  <input type="hidden" name="username" value="${user?.username ?? ''}" autocomplete="username">
  ${field({ name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password', required: true, errors, autofocus: true })}
  <div class="actions"><button type="submit">Continue</button><a href="/account">Cancel</a></div>
</form>`;
    return kit.render(request, reply, { title: titleWithErrors('Confirm it is you', errors), main, narrow: true, status });
  }

  return async (app: FastifyInstance) => {
    kit.get(app, '/account/confirm', async (request, reply) => {
      if (kit.requireUser(request, reply) === null) return reply;
      return form(request, reply, safeNext((request.query as Record<string, unknown>).next, '/account'));
    });

    kit.post(app, '/account/confirm', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const next = safeNext(textField(request.body, 'next'), '/account');
      const password = textField(request.body, 'password', { keepSpaces: true });
      if (password === '') return form(request, reply, next, [{ field: 'password', message: 'Enter your password' }], 422);
      const context = requestContext(request);
      try {
        if (!(await users.verifyPassword(user, password, context))) {
          return form(request, reply, next, [{ field: 'password', message: 'That password is not right' }], 403);
        }
      } catch (error) {
        if (error instanceof AppError && error.statusCode === 429) {
          return form(request, reply, next, [{ field: 'password', message: 'Too many attempts. Wait a little and try again.' }], 429);
        }
        throw error;
      }
      const signedIn = await sessions.browser.issue(user, context);
      await startBrowserSession(request, reply, signedIn, (old) => sessions.end(user, old.id, context));
      return kit.redirect(reply, next);
    });
  };
}
