/**
 * The two-factor endpoints: TOTP setup, confirm and disable, the second step of a login, new
 * recovery codes, and the admin's reset. Answers holding a secret are never cached.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { noContent, response } from '../../http/doc-schemas.js';
import { errorResponses } from '../../http/error-schemas.js';
import { requestContext } from '../../http/request-context.js';
import { UserIdParamsSchema } from '../../users/user-schemas.js';
import { TokenResponseSchema } from '../login/auth-schemas.js';
import { type Authenticator, currentUser } from '../authenticate.js';
import {
  MfaVerifyBodySchema,
  RecoveryCodesResponseSchema,
  TotpCodeBodySchema,
  TotpDisableBodySchema,
  TotpSetupBodySchema,
  TotpSetupResponseSchema,
} from './totp-schemas.js';
import type { SessionService } from '../sessions/session-service.js';
import type { TotpService } from './totp-service.js';

const bearer = [{ bearerAuth: [] }];

export function totpRoutes(deps: {
  totp: TotpService;
  sessions: Pick<SessionService, 'api'>;
  auth: Authenticator;
}): FastifyPluginAsyncTypebox {
  const { totp, sessions, auth } = deps;
  return async (app) => {
    app.post(
      '/auth/2fa/totp/setup',
      {
        onRequest: auth.required,
        schema: {
          tags: ['auth'],
          summary: 'Start TOTP two-factor setup',
          description:
            'Asks for the password again (a stolen access token alone must not enrol another phone). A new ' +
            'secret and its otpauth:// URI, as PNG and SVG QR codes for an authenticator app. Not in force ' +
            'until POST /auth/2fa/totp/confirm; calling again replaces an unconfirmed secret. 409 when TOTP is on.',
          security: bearer,
          body: TotpSetupBodySchema,
          response: {
            200: response('The new secret, as text, URI and QR codes', TotpSetupResponseSchema),
            ...errorResponses({ 403: ['INVALID_PASSWORD'], 409: ['TOTP_ALREADY_ENABLED'], 429: ['ACCOUNT_LOCKED', 'BUSY'] }),
          },
        },
      },
      async (request) => {
        const enrolment = await totp.setup(currentUser(request), request.body.password, requestContext(request));
        return {
          secret: enrolment.secret,
          otpauth_url: enrolment.otpauthUrl,
          qr_png_base64: enrolment.qrPngBase64,
          qr_svg: enrolment.qrSvg,
        };
      },
    );

    app.post(
      '/auth/2fa/totp/confirm',
      {
        onRequest: auth.required,
        schema: {
          tags: ['auth'],
          summary: 'Turn TOTP on with a first code',
          description:
            'Checks a code against the pending secret and turns two-factor authentication on. Returns 10 ' +
            'single-use recovery codes, shown only this once.',
          security: bearer,
          body: TotpCodeBodySchema,
          response: {
            200: response('On; the recovery codes, shown this once', RecoveryCodesResponseSchema),
            ...errorResponses({
              403: ['INVALID_MFA_CODE'],
              409: ['TOTP_ALREADY_ENABLED', 'TOTP_NOT_SET_UP'],
              429: ['ACCOUNT_LOCKED'],
            }),
          },
        },
      },
      async (request) => {
        const codes = await totp.confirm(currentUser(request), request.body.code, requestContext(request));
        return { recovery_codes: codes };
      },
    );

    app.post(
      '/auth/2fa/verify',
      {
        schema: {
          tags: ['auth'],
          summary: 'Second step of a login: a TOTP or recovery code',
          description:
            'With the `mfa_token` of a 401 `MFA_REQUIRED` login answer and a code from the authenticator app ' +
            '(or an unused recovery code), returns the token pair. A code is accepted once. A challenge takes ' +
            '5 wrong codes (`attempts_left` says how many remain), then it is gone: log in again. Wrong codes ' +
            'also count as failed logins of the account (429 `ACCOUNT_LOCKED`). A wrong code is 403 ' +
            '`INVALID_MFA_CODE`, as wherever a code is checked; 401 `INVALID_MFA_TOKEN` for an unknown, expired or ' +
            'used-up challenge.',
          body: MfaVerifyBodySchema,
          response: {
            200: response('The token pair', TokenResponseSchema),
            ...errorResponses({
              401: ['INVALID_MFA_TOKEN'],
              403: ['INVALID_MFA_CODE', 'ACCOUNT_DISABLED'],
              429: ['ACCOUNT_LOCKED'],
              503: ['DATABASE_UNAVAILABLE'],
            }),
          },
        },
      },
      async (request) =>
        totp.verifyLogin(request.body.mfa_token, request.body.code, requestContext(request), sessions.api),
    );

    app.post(
      '/auth/2fa/totp/disable',
      {
        onRequest: auth.required,
        schema: {
          tags: ['auth'],
          summary: 'Turn TOTP off',
          description:
            'Needs the password and a current code (or a recovery code). Deletes the secret and the recovery codes. ' +
            "Every other session of the user ends and older access tokens are refused, as after a password change: " +
            "this token's session keeps going (send its new tokens from POST /auth/refresh).",
          security: bearer,
          body: TotpDisableBodySchema,
          response: {
            204: noContent('Two-factor authentication is off'),
            ...errorResponses({
              403: ['INVALID_PASSWORD', 'INVALID_MFA_CODE'],
              409: ['TOTP_NOT_ENABLED'],
              429: ['ACCOUNT_LOCKED', 'BUSY'],
            }),
          },
        },
      },
      async (request, reply) => {
        await totp.disable(currentUser(request), request.body.password, request.body.code, requestContext(request), request.tokenClaims?.sid);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/auth/2fa/recovery-codes',
      {
        onRequest: auth.required,
        schema: {
          tags: ['auth'],
          summary: 'New recovery codes',
          description: 'Needs a current TOTP code. Returns 10 new single-use codes; the old ones stop working.',
          security: bearer,
          body: TotpCodeBodySchema,
          response: {
            200: response('The new recovery codes, shown this once', RecoveryCodesResponseSchema),
            ...errorResponses({ 403: ['INVALID_MFA_CODE'], 409: ['TOTP_NOT_ENABLED'], 429: ['ACCOUNT_LOCKED'] }),
          },
        },
      },
      async (request) => {
        const codes = await totp.regenerateRecoveryCodes(currentUser(request), request.body.code, requestContext(request));
        return { recovery_codes: codes };
      },
    );

    app.delete(
      '/users/:user_id/2fa',
      {
        onRequest: auth.admin,
        schema: {
          tags: ['users'],
          summary: "Reset a user's two-factor authentication (admin)",
          description: 'Turns TOTP off and deletes the recovery codes, e.g. after a lost phone. The user can set it up again.',
          security: bearer,
          params: UserIdParamsSchema,
          response: {
            204: noContent('Reset'),
            ...errorResponses({ 403: ['ADMIN_REQUIRED'], 404: ['USER_NOT_FOUND'] }),
          },
        },
      },
      async (request, reply) => {
        await totp.reset(currentUser(request), request.params.user_id.toLowerCase(), requestContext(request));
        return reply.code(204).send(null);
      },
    );
  };
}
