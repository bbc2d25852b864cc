/**
 * Sessions: refresh, logout, logout-all, the list of a user's sessions; the OAuth2 password form
 * (POST /auth/token) for Swagger UI and OAuth2 clients; and the public keys (JWKS) other
 * services verify our tokens with.
 */
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../../errors.js';
import { noContent, response } from '../../http/doc-schemas.js';
import { errorResponses } from '../../http/error-schemas.js';
import { requestContext } from '../../http/request-context.js';
import type { UserService } from '../../users/user-service.js';
import {
  JwksSchema,
  RefreshBodySchema,
  SESSION_EXAMPLE,
  SessionIdParamsSchema,
  SessionSchema,
  TokenFormSchema,
  TokenResponseSchema,
} from '../login/auth-schemas.js';
import { type Authenticator, currentUser } from '../authenticate.js';
import { type KeySet, publicJwks } from '../tokens/keys.js';
import type { LoginFlow } from '../login/login-flow.js';
import type { SessionService } from './session-service.js';

const bearer = [{ bearerAuth: [] }];
const FORM_BODY_LIMIT = 8 * 1024;

export function sessionRoutes(deps: {
  users: UserService;
  sessions: SessionService;
  login: LoginFlow;
  auth: Authenticator;
  keys: KeySet;
}): FastifyPluginAsyncTypebox {
  const { users, sessions, login, auth, keys } = deps;
  return async (app) => {
    app.post(
      '/auth/refresh',
      {
        schema: {
          tags: ['auth'],
          summary: 'Exchange a refresh token for a new token pair',
          description:
            'Each refresh token works once. Presenting one that was already used revokes its whole session ' +
            '(someone else holds a copy).',
          body: RefreshBodySchema,
          response: {
            200: response('A new token pair; the refresh token sent is used up', TokenResponseSchema),
            ...errorResponses({ 401: ['INVALID_REFRESH_TOKEN'], 503: ['DATABASE_UNAVAILABLE'] }),
          },
        },
      },
      async (request) => sessions.refresh(request.body.refresh_token, requestContext(request)),
    );

    app.post(
      '/auth/logout',
      {
        onRequest: auth.required,
        schema: {
          tags: ['auth'],
          summary: 'Log out this session',
          description: "Revokes the session of the bearer token: its refresh token stops working.",
          security: bearer,
          response: { 204: noContent('Logged out') },
        },
      },
      async (request, reply) => {
        await sessions.logout(currentUser(request), request.tokenClaims?.sid, requestContext(request));
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/auth/logout-all',
      {
        onRequest: auth.required,
        schema: {
          tags: ['auth'],
          summary: 'Log out everywhere',
          description: "Revokes every session of the user and invalidates all their access tokens at once.",
          security: bearer,
          response: { 204: noContent('Logged out everywhere') },
        },
      },
      async (request, reply) => {
        await sessions.logoutAll(currentUser(request), requestContext(request));
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/auth/sessions',
      {
        onRequest: auth.required,
        schema: {
          tags: ['auth'],
          summary: "The current user's active sessions",
          description:
            'Every session not logged out or expired, with the device (user agent, IP) that started it; ' +
            '`current` marks the one of this token. DELETE /auth/sessions/{session_id} ends one.',
          security: bearer,
          response: {
            200: response('The sessions', Type.Array(SessionSchema), [
              SESSION_EXAMPLE,
              { ...SESSION_EXAMPLE, id: '6915f03b09d9eedb316de5a1', user_agent: 'AuthQR/2.1 (Android 15)', ip: '198.51.100.23', current: false },
            ]),
          },
        },
      },
      async (request) => {
        const current = request.tokenClaims?.sid;
        return (await sessions.list(currentUser(request))).map((s) => ({
          id: s.id,
          user_agent: s.userAgent,
          ip: s.ip,
          created_at: s.createdAt.toISOString(),
          last_used_at: s.lastUsedAt.toISOString(),
          expires_at: s.expiresAt.toISOString(),
          current: s.id === current,
        }));
      },
    );

    app.delete(
      '/auth/sessions/:session_id',
      {
        onRequest: auth.required,
        schema: {
          tags: ['auth'],
          summary: 'Revoke one of your sessions',
          description:
            'Logs one of your sessions out (a lost phone, say): its refresh token stops working at once, its ' +
            'access token when it expires. 404 `SESSION_NOT_FOUND` for an id that is not an active session of yours.',
          security: bearer,
          params: SessionIdParamsSchema,
          response: { 204: noContent('Revoked'), ...errorResponses({ 404: ['SESSION_NOT_FOUND'] }) },
        },
      },
      async (request, reply) => {
        await sessions.revoke(currentUser(request), request.params.session_id, requestContext(request));
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/.well-known/jwks.json',
      {
        schema: {
          tags: ['auth'],
          summary: 'Public keys that verify access tokens (JWKS)',
          description:
            'The public keys (RFC 7517) other services verify our access tokens with, matched by the token\'s ' +
            '`kid`. Every configured key is listed: the first signs, the others still verify during a rotation. ' +
            'Cacheable for 5 minutes.',
          response: { 200: response('The key set', JwksSchema) },
        },
      },
      async (_request, reply) => {
        reply.header('cache-control', 'public, max-age=300');
        return publicJwks(keys) as { keys: { kty: string; crv: string; x: string; kid: string; alg: string; use: string }[] };
      },
    );

    // The OAuth2 form lives in its own scope: only it parses form bodies.
    await app.register(async (form) => {
      form.addContentTypeParser(
        'application/x-www-form-urlencoded',
        { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT },
        (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
      );
      form.withTypeProvider<TypeBoxTypeProvider>().post(
        '/auth/token',
        {
          schema: {
            tags: ['auth'],
            summary: 'OAuth2 password grant (form): email or username, and password',
            description:
              'application/x-www-form-urlencoded with `username` (email or username) and `password`, as Swagger ' +
              "UI's Authorize dialog and OAuth2 clients send them. Same answers as POST /auth/login.",
            consumes: ['application/x-www-form-urlencoded'],
            body: TokenFormSchema,
            response: {
              200: response('The token pair', TokenResponseSchema),
              ...errorResponses({
                400: ['UNSUPPORTED_GRANT_TYPE'],
                401: ['INVALID_CREDENTIALS', 'MFA_REQUIRED'],
                403: ['ACCOUNT_DISABLED'],
                429: ['ACCOUNT_LOCKED', 'BUSY'],
                503: ['DATABASE_UNAVAILABLE'],
              }),
            },
          },
        },
        async (request) => {
          const { grant_type: grant, username, password } = request.body;
          if (grant !== undefined && grant !== 'password') {
            throw new AppError(400, 'UNSUPPORTED_GRANT_TYPE', 'Only grant_type=password is supported here');
          }
          const context = requestContext(request);
          const user = await users.login(username, password, context);
          return login.complete(user, context, 'password', sessions.api);
        },
      );
    });
  };
}
