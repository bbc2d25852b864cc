/**
 * POST /users/me/password, the password reset (request + confirm) and the email verification
 * (request + confirm).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { noContent, response } from '../../http/doc-schemas.js';
import { errorResponses } from '../../http/error-schemas.js';
import { requestContext } from '../../http/request-context.js';
import { toUserResponse, USER_EXAMPLE, UserResponseSchema } from '../../users/user-schemas.js';
import { type Authenticator, currentUser } from '../authenticate.js';
import type { EmailVerificationService } from './email-verification-service.js';
import type { PasswordService } from './password-service.js';
import {
  AcceptedResponseSchema,
  AccessTokenResponseSchema,
  ChangePasswordBodySchema,
  ResetConfirmBodySchema,
  ResetRequestBodySchema,
  VerifyConfirmBodySchema,
} from './password-schemas.js';

const bearer = [{ bearerAuth: [] }];
/** One answer for every reset request: whether the account exists stays unknown. */
const RESET_REQUESTED = {
  detail: 'If an account with this email exists, a password reset token has been sent to it; it works once, for 30 minutes',
};
/** The answer of POST /auth/verify-email/request, for the document. */
const VERIFICATION_SENT = { detail: 'A verification token has been sent to your email address' };

export function passwordRoutes(deps: {
  passwordService: PasswordService;
  emailVerification: EmailVerificationService;
  auth: Authenticator;
}): FastifyPluginAsyncTypebox {
  const { passwordService, emailVerification, auth } = deps;
  return async (app) => {
    app.post(
      '/users/me/password',
      {
        onRequest: auth.required,
        schema: {
          tags: ['users'],
          summary: 'Change your password',
          description:
            'Needs the current password (403 `INVALID_CURRENT_PASSWORD` otherwise; wrong guesses count toward the ' +
            'same lock as failed logins, 429 `ACCOUNT_LOCKED`). Every other session and every access token issued ' +
            'before is revoked; the answer carries a new access token for this session, whose refresh token keeps ' +
            'working.',
          security: bearer,
          body: ChangePasswordBodySchema,
          response: {
            200: response('Changed: a new access token for this session', AccessTokenResponseSchema),
            // 404: the user was deleted while the password was being changed.
            ...errorResponses({ 403: ['INVALID_CURRENT_PASSWORD'], 404: ['USER_NOT_FOUND'], 429: ['ACCOUNT_LOCKED', 'BUSY'] }),
          },
        },
      },
      async (request) =>
        passwordService.change(
          currentUser(request),
          request.tokenClaims?.sid,
          { currentPassword: request.body.current_password, newPassword: request.body.new_password },
          requestContext(request),
        ),
    );

    app.post(
      '/auth/password-reset/request',
      {
        schema: {
          tags: ['auth'],
          summary: 'Mail a password reset token',
          description:
            'Always 202 with the same body, whether or not an account has this email (no enumeration). An active ' +
            'account gets a mail with a single-use token valid for 30 minutes (and a link when PUBLIC_URL is set); ' +
            'a new request replaces the previous token.',
          body: ResetRequestBodySchema,
          response: { 202: response('Accepted (the same answer for any email)', AcceptedResponseSchema, RESET_REQUESTED) },
        },
      },
      async (request, reply) => {
        passwordService.requestReset(request.body.email, requestContext(request));
        return reply.code(202).send(RESET_REQUESTED);
      },
    );

    app.post(
      '/auth/password-reset/confirm',
      {
        schema: {
          tags: ['auth'],
          summary: 'Set a new password with a reset token',
          description:
            'Uses the token up. Every session and access token of the account is revoked (log in again), a login ' +
            'lock is lifted, and the email counts as verified. 400 `INVALID_RESET_TOKEN` for an unknown, used or ' +
            'expired token; a new password that breaks the rules is a 422 and leaves the token usable.',
          body: ResetConfirmBodySchema,
          response: {
            204: noContent('Password changed'),
            ...errorResponses({ 400: ['INVALID_RESET_TOKEN'], 503: ['DATABASE_UNAVAILABLE'] }),
          },
        },
      },
      async (request, reply) => {
        await passwordService.confirmReset(request.body.token, request.body.new_password, requestContext(request));
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/auth/verify-email/request',
      {
        onRequest: auth.required,
        schema: {
          tags: ['auth'],
          summary: 'Mail an email verification token',
          description:
            "Mails a single-use token, valid for 24 hours, to the user's address; a new request replaces the " +
            'previous token. 409 `EMAIL_ALREADY_VERIFIED` when there is nothing to verify.',
          security: bearer,
          response: {
            202: response('Sent', AcceptedResponseSchema, VERIFICATION_SENT),
            ...errorResponses({ 409: ['EMAIL_ALREADY_VERIFIED'] }),
          },
        },
      },
      async (request, reply) => {
        const user = currentUser(request);
        await emailVerification.request(user, requestContext(request));
        return reply.code(202).send({ detail: 'A verification token has been sent to your email address' });
      },
    );

    app.post(
      '/auth/verify-email/confirm',
      {
        schema: {
          tags: ['auth'],
          summary: 'Confirm an email address with its token',
          description:
            'Uses the token up and answers the user with `email_verified: true`. 400 `INVALID_VERIFICATION_TOKEN` ' +
            'for an unknown, used or expired token — also for one mailed to an address the user no longer has (a new ' +
            'email deletes the tokens already mailed).',
          body: VerifyConfirmBodySchema,
          response: {
            200: response('The user, with the email verified', UserResponseSchema, USER_EXAMPLE),
            // 404: the user was deleted between the token's check and the update.
            ...errorResponses({
              400: ['INVALID_VERIFICATION_TOKEN'],
              404: ['USER_NOT_FOUND'],
              503: ['DATABASE_UNAVAILABLE'],
            }),
          },
        },
      },
      async (request) => toUserResponse(await emailVerification.confirm(request.body.token, requestContext(request))),
    );
  };
}
