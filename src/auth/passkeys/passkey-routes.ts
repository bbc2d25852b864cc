/**
 * The passkey endpoints of the API, for apps (a native app can run the same ceremonies): begin and
 * finish for registration and for sign-in, and list, rename, delete; an admin's list and removal
 * of a user's passkeys. The ceremony bodies are SimpleWebAuthn's JSON shapes.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { noContent, response } from '../../http/doc-schemas.js';
import { errorResponses } from '../../http/error-schemas.js';
import { requestContext } from '../../http/request-context.js';
import { UserIdParamsSchema, UserIdSchema } from '../../users/user-schemas.js';
import type { UserService } from '../../users/user-service.js';
import { errors } from '../../errors.js';
import { type Authenticator, currentUser } from '../authenticate.js';
import { TokenResponseSchema } from '../login/auth-schemas.js';
import type { SessionService } from '../sessions/session-service.js';
import {
  CREATION_OPTIONS_EXAMPLE,
  CredentialIdSchema,
  CreationOptionsSchema,
  LoginBeginBodySchema,
  LoginFinishBodySchema,
  PASSKEY_EXAMPLE,
  PasskeyIdParamsSchema,
  PasskeyListSchema,
  PasskeySchema,
  RegisterBeginBodySchema,
  RegisterFinishBodySchema,
  RenameBodySchema,
  REQUEST_OPTIONS_EXAMPLE,
  RequestOptionsSchema,
  toPasskeyResponse,
} from './passkey-schemas.js';
import type { PasskeyService } from './passkey-service.js';
import { Type } from 'typebox';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';

const bearer = [{ bearerAuth: [] }];
const OFF = { 503: ['PASSKEYS_NOT_CONFIGURED', 'DATABASE_UNAVAILABLE'] } as const;

export function passkeyRoutes(deps: {
  passkeys: PasskeyService;
  sessions: Pick<SessionService, 'api'>;
  users: Pick<UserService, 'findById'>;
  auth: Authenticator;
}): FastifyPluginAsyncTypebox {
  const { passkeys, sessions, users, auth } = deps;
  return async (app) => {
    app.post(
      '/auth/passkeys/register/begin',
      {
        onRequest: auth.required,
        schema: {
          tags: ['auth'],
          summary: 'Begin adding a passkey',
          description:
            'The options for `navigator.credentials.create()` (SimpleWebAuthn: `startRegistration({ optionsJSON })`): a ' +
            'discoverable credential, user verification required, attestation `none`, the account\'s passkeys excluded. ' +
            'When the sign-in is older than 5 minutes, send the `password` again (403 `REAUTH_REQUIRED` otherwise). The ' +
            'challenge lasts 5 minutes and is good for one finish.',
          security: bearer,
          body: RegisterBeginBodySchema,
          response: {
            200: response('The creation options', CreationOptionsSchema, CREATION_OPTIONS_EXAMPLE),
            ...errorResponses({ 403: ['REAUTH_REQUIRED', 'INVALID_PASSWORD'], 409: ['PASSKEY_LIMIT'], 429: ['ACCOUNT_LOCKED', 'BUSY'], ...OFF }),
          },
        },
      },
      async (request) => {
        const user = currentUser(request);
        return passkeys.beginRegistration(
          user,
          { password: request.body.password, sessionId: request.tokenClaims?.sid },
          requestContext(request),
        );
      },
    );

    app.post(
      '/auth/passkeys/register/finish',
      {
        onRequest: auth.required,
        schema: {
          tags: ['auth'],
          summary: 'Finish adding a passkey',
          description:
            "The authenticator's answer (`startRegistration()`'s result) and the name the user gives the passkey. The " +
            'challenge is used up whether or not the answer verifies.',
          security: bearer,
          body: RegisterFinishBodySchema,
          response: {
            201: response('The new passkey', PasskeySchema, PASSKEY_EXAMPLE),
            ...errorResponses({ 400: ['PASSKEY_CHALLENGE_INVALID', 'PASSKEY_INVALID'], 409: ['PASSKEY_EXISTS'], ...OFF }),
          },
        },
      },
      async (request, reply) => {
        const passkey = await passkeys.finishRegistration(
          currentUser(request),
          request.body.name,
          request.body.response as RegistrationResponseJSON,
          requestContext(request),
        );
        return reply.code(201).send(toPasskeyResponse(passkey));
      },
    );

    app.post(
      '/auth/passkeys/login/begin',
      {
        schema: {
          tags: ['auth'],
          summary: 'Begin signing in with a passkey',
          description:
            'The options for `navigator.credentials.get()` (`startAuthentication({ optionsJSON })`). Without `email`, any ' +
            "of this site's passkeys may answer (username-less); with it, only that account's.",
          body: LoginBeginBodySchema,
          response: {
            200: response('The request options', RequestOptionsSchema, REQUEST_OPTIONS_EXAMPLE),
            ...errorResponses({ ...OFF }),
          },
        },
      },
      async (request) => passkeys.beginAuthentication(request.body.email),
    );

    app.post(
      '/auth/passkeys/login/finish',
      {
        schema: {
          tags: ['auth'],
          summary: 'Finish signing in with a passkey',
          description:
            "The authenticator's answer (`startAuthentication()`'s result); returns the token pair of a password login. " +
            'A user-verified passkey is a complete sign-in: no second factor is asked for. The account lock, a disabled ' +
            'account and the audit log apply as to a password.',
          body: LoginFinishBodySchema,
          response: {
            200: response('The token pair', TokenResponseSchema),
            ...errorResponses({
              401: ['PASSKEY_CHALLENGE_INVALID', 'PASSKEY_INVALID'],
              403: ['ACCOUNT_DISABLED'],
              429: ['ACCOUNT_LOCKED'],
              ...OFF,
            }),
          },
        },
      },
      async (request) =>
        passkeys.finishAuthentication(request.body.response as AuthenticationResponseJSON, requestContext(request), sessions.api),
    );

    app.get(
      '/auth/passkeys',
      {
        onRequest: auth.required,
        schema: {
          tags: ['auth'],
          summary: 'My passkeys',
          description: 'Oldest first.',
          security: bearer,
          response: { 200: response('The passkeys', PasskeyListSchema, [PASSKEY_EXAMPLE]) },
        },
      },
      async (request) => (await passkeys.list(currentUser(request).id)).map(toPasskeyResponse),
    );

    app.patch(
      '/auth/passkeys/:passkey_id',
      {
        onRequest: auth.required,
        schema: {
          tags: ['auth'],
          summary: 'Rename a passkey',
          description: 'Only your own.',
          security: bearer,
          params: PasskeyIdParamsSchema,
          body: RenameBodySchema,
          response: {
            200: response('The passkey', PasskeySchema, { ...PASSKEY_EXAMPLE, name: 'Phone' }),
            ...errorResponses({ 404: ['PASSKEY_NOT_FOUND'] }),
          },
        },
      },
      async (request) =>
        toPasskeyResponse(await passkeys.rename(currentUser(request), request.params.passkey_id, request.body.name, requestContext(request))),
    );

    app.delete(
      '/auth/passkeys/:passkey_id',
      {
        onRequest: auth.required,
        schema: {
          tags: ['auth'],
          summary: 'Delete a passkey',
          description: 'Refused (409 `LAST_SIGN_IN_METHOD`) when it is the only way to sign in: no password and no other passkey.',
          security: bearer,
          params: PasskeyIdParamsSchema,
          response: {
            204: noContent('Deleted'),
            ...errorResponses({ 404: ['PASSKEY_NOT_FOUND'], 409: ['LAST_SIGN_IN_METHOD'] }),
          },
        },
      },
      async (request, reply) => {
        await passkeys.remove(currentUser(request), request.params.passkey_id, requestContext(request));
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/users/:user_id/passkeys',
      {
        onRequest: auth.admin,
        schema: {
          tags: ['users'],
          summary: "A user's passkeys (admin)",
          description: 'Oldest first.',
          security: bearer,
          params: UserIdParamsSchema,
          response: {
            200: response('The passkeys', PasskeyListSchema, [PASSKEY_EXAMPLE]),
            ...errorResponses({ 403: ['ADMIN_REQUIRED'], 404: ['USER_NOT_FOUND'] }),
          },
        },
      },
      async (request) => {
        const user = await users.findById(request.params.user_id);
        if (user === null) throw errors.userNotFound();
        return (await passkeys.list(user.id)).map(toPasskeyResponse);
      },
    );

    app.delete(
      '/users/:user_id/passkeys/:passkey_id',
      {
        onRequest: auth.admin,
        schema: {
          tags: ['users'],
          summary: "Remove a user's passkey (admin)",
          description: "For a lost or stolen device. Allowed even when it is the user's last way in: they can still reset their password by mail.",
          security: bearer,
          params: Type.Object({ user_id: UserIdSchema, passkey_id: CredentialIdSchema }),
          response: { 204: noContent('Removed'), ...errorResponses({ 403: ['ADMIN_REQUIRED'], 404: ['USER_NOT_FOUND', 'PASSKEY_NOT_FOUND'] }) },
        },
      },
      async (request, reply) => {
        const user = await users.findById(request.params.user_id);
        if (user === null) throw errors.userNotFound();
        await passkeys.remove(user, request.params.passkey_id, requestContext(request), currentUser(request));
        return reply.code(204).send(null);
      },
    );
  };
}
