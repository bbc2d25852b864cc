/** POST /auth/register and POST /auth/login, with the old service's request and response shapes. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ErrorResponseSchema, errorResponses } from '../http/error-schemas.js';
import { toUserResponse, UserResponseSchema } from '../users/user-schemas.js';
import type { UserService } from '../users/user-service.js';
import { LoginBodySchema, RegisterBodySchema, TokenResponseSchema } from './auth-schemas.js';
import type { Authenticator } from './authenticate.js';
import type { TokenService } from './tokens.js';

export function authRoutes(deps: {
  users: UserService;
  tokens: TokenService;
  auth: Authenticator;
}): FastifyPluginAsyncTypebox {
  const { users, tokens, auth } = deps;
  return async (app) => {
    app.post(
      '/auth/register',
      {
        onRequest: auth.optional,
        schema: {
          tags: ['auth'],
          summary: 'Register a user',
          description:
            'Creates a student. Any other role needs an admin\'s bearer token (403 otherwise). ' +
            'Passwords: 8 to 1024 bytes of UTF-8, never truncated.',
          security: [{}, { bearerAuth: [] }],
          body: RegisterBodySchema,
          response: { 201: UserResponseSchema, ...errorResponses(400, 401, 403, 422) },
        },
      },
      async (request, reply) => {
        const b = request.body;
        const user = await users.register(
          { username: b.username, email: b.email, password: b.password, fullName: b.full_name ?? null, role: b.role },
          request.user,
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
          description: 'JSON body (not a form). Returns a bearer access token.',
          body: LoginBodySchema,
          response: { 200: TokenResponseSchema, 401: ErrorResponseSchema, ...errorResponses(422) },
        },
      },
      async (request) => {
        const user = await users.login(request.body.email, request.body.password);
        const issued = await tokens.issue(user);
        return { access_token: issued.token, token_type: 'bearer' as const, expires_in: issued.expiresIn };
      },
    );
  };
}
