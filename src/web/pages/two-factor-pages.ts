/**
 * /account/2fa: the TOTP second factor in pages, over the service of /auth/2fa/* with the same
 * limits (http/rate-limits.ts): setup (the password again, then the QR, its key and a first code),
 * the recovery codes shown once, new recovery codes, and turning it off. Setting up, new codes and
 * turning off need a recent sign-in too (requireFresh); the first code follows the setup that was.
 *
 * The secret and the codes are only ever in the answer to the form that made them (never in a URL,
 * never cached: the pages send no-store), so the back button or a later visit cannot bring them back.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TotpService } from '../../auth/totp/totp-service.js';
import { AppError } from '../../errors.js';
import { requestContext } from '../../http/request-context.js';
import { type FieldError, notice, textField, titleWithErrors } from '../forms.js';
import type { SafeHtml } from '../html.js';
import { webContext, type WebKit } from '../web-kit.js';
import { waitMessage } from './account-views.js';
import { codesView, confirmAgainView, disableView, regenerateView, scanView, setupPasswordView, statusView } from './two-factor-views.js';

export interface TwoFactorDeps {
  kit: WebKit;
  totp: TotpService;
}

const DONE: Record<string, () => SafeHtml> = {
  off: () => notice('success', 'Two-factor authentication is off.'),
};

const COPY_ISLAND = ['copy-text.js'];

/** The field error for what the TOTP service refused, with the page's status; null: not the form's to show. */
function refusal(error: unknown): { errors: FieldError[]; status: number } | null {
  if (!(error instanceof AppError)) return null;
  if (error.code === 'INVALID_PASSWORD') return { errors: [{ field: 'password', message: 'That password is not right' }], status: 403 };
  if (error.code === 'INVALID_MFA_CODE') {
    return { errors: [{ field: 'code', message: 'That code is not right, or was used already. Type the one your app shows now.' }], status: 403 };
  }
  if (error.statusCode === 429) return { errors: [{ field: '', message: waitMessage(error) }], status: 429 };
  return null;
}

export function twoFactorPages(deps: TwoFactorDeps) {
  const { kit, totp } = deps;
  const csrf = (request: FastifyRequest, reply: FastifyReply) => kit.csrfToken(request, reply);
  const page = (request: FastifyRequest, reply: FastifyReply, title: string, main: SafeHtml, errors: FieldError[] = [], status = 200) =>
    kit.render(request, reply, { title: titleWithErrors(title, errors), main, narrow: true, status });
  /** A page with something to copy (the key, the recovery codes): the copy buttons' island. */
  const copyPage = (request: FastifyRequest, reply: FastifyReply, title: string, main: SafeHtml) =>
    kit.render(request, reply, { title, main, narrow: true, islands: COPY_ISLAND });

  return async (app: FastifyInstance) => {
    kit.get(app, '/account/2fa', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const done = (request.query as Record<string, unknown>).done;
      const message = typeof done === 'string' && Object.hasOwn(DONE, done) ? DONE[done]?.() : undefined;
      const codesLeft = user.totpEnabled ? await totp.recoveryCodesLeft(user) : 0;
      return kit.render(request, reply, { title: 'Two-factor authentication', main: statusView({ user, codesLeft, message }), narrow: true });
    });

    kit.get(app, '/account/2fa/setup', async (request, reply) => {
      const user = kit.requireFresh(request, reply);
      if (user === null) return reply;
      if (user.totpEnabled) return kit.redirect(reply, '/account/2fa');
      return page(request, reply, 'Set up two-factor authentication', setupPasswordView(csrf(request, reply), user, []));
    });

    kit.post(app, '/account/2fa/setup', async (request, reply) => {
      const user = kit.requireFresh(request, reply, '/account/2fa/setup');
      if (user === null) return reply;
      if (user.totpEnabled) return kit.redirect(reply, '/account/2fa');
      const password = textField(request.body, 'password', { keepSpaces: true });
      const retry = (errors: FieldError[], status: number) =>
        page(request, reply, 'Set up two-factor authentication', setupPasswordView(csrf(request, reply), user, errors), errors, status);
      if (password === '') return retry([{ field: 'password', message: 'Enter your password' }], 422);
      try {
        const enrolment = await totp.setup(user, password, requestContext(request));
        return copyPage(request, reply, 'Scan the code with your app', scanView(csrf(request, reply), enrolment));
      } catch (error) {
        const refused = refusal(error);
        if (refused !== null) return retry(refused.errors, refused.status);
        if (error instanceof AppError && error.code === 'TOTP_ALREADY_ENABLED') return kit.redirect(reply, '/account/2fa');
        throw error;
      }
    });

    kit.post(app, '/account/2fa/confirm', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const code = textField(request.body, 'code');
      const retry = (errors: FieldError[], status: number) =>
        page(request, reply, 'Type the code your app shows', confirmAgainView(csrf(request, reply), errors), errors, status);
      if (code === '') return retry([{ field: 'code', message: 'Enter the code your app shows' }], 422);
      try {
        const codes = await totp.confirm(user, code, requestContext(request));
        const main = codesView({
          codes,
          user,
          siteName: kit.siteName,
          heading: 'Save your recovery codes',
          message: notice('success', 'Two-factor authentication is on.'),
        });
        return copyPage(request, reply, 'Save your recovery codes', main);
      } catch (error) {
        const refused = refusal(error);
        if (refused !== null) return retry(refused.errors, refused.status);
        if (error instanceof AppError && error.code === 'TOTP_ALREADY_ENABLED') return kit.redirect(reply, '/account/2fa');
        if (error instanceof AppError && error.code === 'TOTP_NOT_SET_UP') return kit.redirect(reply, '/account/2fa/setup');
        throw error;
      }
    });

    kit.get(app, '/account/2fa/recovery-codes', async (request, reply) => {
      const user = kit.requireFresh(request, reply);
      if (user === null) return reply;
      if (!user.totpEnabled) return kit.redirect(reply, '/account/2fa');
      return page(request, reply, 'Get new recovery codes', regenerateView(csrf(request, reply), []));
    });

    kit.post(app, '/account/2fa/recovery-codes', async (request, reply) => {
      const user = kit.requireFresh(request, reply, '/account/2fa/recovery-codes');
      if (user === null) return reply;
      if (!user.totpEnabled) return kit.redirect(reply, '/account/2fa');
      const code = textField(request.body, 'code');
      const retry = (errors: FieldError[], status: number) =>
        page(request, reply, 'Get new recovery codes', regenerateView(csrf(request, reply), errors), errors, status);
      if (code === '') return retry([{ field: 'code', message: 'Enter the code your app shows' }], 422);
      try {
        const codes = await totp.regenerateRecoveryCodes(user, code, requestContext(request));
        const main = codesView({
          codes,
          user,
          siteName: kit.siteName,
          heading: 'Your new recovery codes',
          message: notice('success', 'Your old recovery codes no longer work.'),
        });
        return copyPage(request, reply, 'Your new recovery codes', main);
      } catch (error) {
        const refused = refusal(error);
        if (refused !== null) return retry(refused.errors, refused.status);
        if (error instanceof AppError && error.code === 'TOTP_NOT_ENABLED') return kit.redirect(reply, '/account/2fa');
        throw error;
      }
    });

    kit.get(app, '/account/2fa/disable', async (request, reply) => {
      const user = kit.requireFresh(request, reply);
      if (user === null) return reply;
      if (!user.totpEnabled) return kit.redirect(reply, '/account/2fa');
      return page(request, reply, 'Turn off two-factor authentication?', disableView(csrf(request, reply), user, []));
    });

    kit.post(app, '/account/2fa/disable', async (request, reply) => {
      const user = kit.requireFresh(request, reply, '/account/2fa/disable');
      if (user === null) return reply;
      if (!user.totpEnabled) return kit.redirect(reply, '/account/2fa');
      const password = textField(request.body, 'password', { keepSpaces: true });
      const code = textField(request.body, 'code');
      const retry = (errors: FieldError[], status: number) =>
        page(request, reply, 'Turn off two-factor authentication?', disableView(csrf(request, reply), user, errors), errors, status);
      const missing: FieldError[] = [];
      if (password === '') missing.push({ field: 'password', message: 'Enter your password' });
      if (code === '') missing.push({ field: 'code', message: 'Enter a code from your app, or a recovery code' });
      if (missing.length > 0) return retry(missing, 422);
      try {
        // This browser stays signed in; every other session ends (as after a password change).
        await totp.disable(user, password, code, requestContext(request), webContext(request).session?.id);
        return kit.redirect(reply, '/account/2fa?done=off');
      } catch (error) {
        const refused = refusal(error);
        if (refused !== null) return retry(refused.errors, refused.status);
        if (error instanceof AppError && error.code === 'TOTP_NOT_ENABLED') return kit.redirect(reply, '/account/2fa');
        throw error;
      }
    });
  };
}
