/**
 * POST /auth/register and POST /auth/login, with the old service's request and response shapes
 * (login now also returns `refresh_token` and `expires_in`).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { response, withExamples } from '../../http/doc-schemas.js';
import { errorResponses } from '../../http/error-schemas.js';
import { requestContext } from '../../http/request-context.js';
import { toUserResponse, USER_EXAMPLE, UserResponseSchema } from '../../users/user-schemas.js';
import type { UserService } from '../../users/user-service.js';
import { LoginBodySchema, REGISTER_EXAMPLE, RegisterBodySchema, TokenResponseSchema } from './auth-schemas.js';
import type { Authenticator } from '../authenticate.js';
import type { LoginFlow } from './login-flow.js';
import type { SessionService } from '../sessions/session-service.js';

export function authRoutes(deps: {
  users: UserService;
  login: LoginFlow;
  sessions: Pick<SessionService, 'api'>;
  auth: Authenticator;
}): FastifyPluginAsyncTypebox {
  const { users, login, sessions, auth } = deps;
  return async (app) => {
    app.post(
      '/auth/register',
      {
        onRequest: auth.optional,
        schema: {
          tags: ['auth'],
          summary: 'Register a user',
          description:
            "Creates a student. Any other role needs an admin's bearer token (403 otherwise). " +
            'Passwords: 8 to 1024 bytes of UTF-8, never truncated.',
          security: [{}, { bearerAuth: [] }],
          body: withExamples(RegisterBodySchema, REGISTER_EXAMPLE),
          response: {
            201: response('The new user', UserResponseSchema, { ...USER_EXAMPLE, email_verified: false }),
            ...errorResponses({ 400: ['USER_EXISTS'], 403: ['ROLE_NOT_ALLOWED'], 503: ['DATABASE_UNAVAILABLE'] }),
          },
        },
      },
      async (request, reply) => {
        const b = request.body;
        const user = await users.register(
          { username: b.username, email: b.email, password: b.password, fullName: b.full_name ?? null, role: b.role },
          request.user,
          requestContext(request),
        );
        return reply.code(201).send(toUserResponse(user));
      },
    );

    app.post(
      '/auth/login',
      {
        schema: {
          tags: ['auth'],
          summary: 'Log in with email and password',
          description:
            'JSON body (not a form; for the OAuth2 form see POST /auth/token). Returns a short-lived access ' +
            'token and a single-use refresh token. With two-factor authentication on, answers 401 ' +
            '`MFA_REQUIRED` with an `mfa_token` for POST /auth/2fa/verify. Repeated failures lock the account ' +
            'for a growing, capped time (429 `ACCOUNT_LOCKED`).',
          body: LoginBodySchema,
          response: {
            200: response('The token pair', TokenResponseSchema),
            ...errorResponses({
              401: ['INVALID_CREDENTIALS', 'MFA_REQUIRED'],
              403: ['ACCOUNT_DISABLED'],
              429: ['ACCOUNT_LOCKED', 'BUSY'],
              503: ['DATABASE_UNAVAILABLE'],
            }),
          },
        },
      },
      async (request) => {
        const context = requestContext(request);
        const user = await users.login(request.body.email, request.body.password, context);
        return login.complete(user, context, 'password', sessions.api);
      },
    );
  };
}
