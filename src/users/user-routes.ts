/** The /users endpoints: me, the admin's paged list, one user, deletion. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { type Authenticator, currentUser } from '../auth/authenticate.js';
import { errorResponses } from '../http/error-schemas.js';
import {
  DeleteUserResponseSchema,
  ListUsersQuerySchema,
  toUserResponse,
  UserIdParamsSchema,
  UserResponseSchema,
} from './user-schemas.js';
import type { UserService } from './user-service.js';

const bearer = [{ bearerAuth: [] }];

export function userRoutes(deps: { users: UserService; auth: Authenticator }): FastifyPluginAsyncTypebox {
  const { users, auth } = deps;
  return async (app) => {
    app.get(
      '/users/me',
      {
        onRequest: auth.required,
        schema: {
          tags: ['users'],
          summary: 'The current user',
          security: bearer,
          response: { 200: UserResponseSchema, ...errorResponses(401) },
        },
      },
      async (request) => toUserResponse(currentUser(request)),
    );

    app.get(
      '/users',
      {
        onRequest: auth.admin,
        schema: {
          tags: ['users'],
          summary: 'List users (admin), paged',
          description:
            'A JSON array, as before, but paged: `limit` (default 50, max 200) and `cursor`. The next page is ' +
            'announced in a `Link: <…>; rel="next"` header; no Link header means the last page.',
          security: bearer,
          querystring: ListUsersQuerySchema,
          response: { 200: Type.Array(UserResponseSchema), ...errorResponses(401, 403, 422) },
        },
      },
      async (request, reply) => {
        const query = request.query;
        const page = await users.list(currentUser(request), {
          limit: query.limit,
          cursor: query.cursor?.toLowerCase(),
          role: query.role,
          q: query.q,
        });
        if (page.nextCursor !== null) {
          const next = new URLSearchParams({ limit: String(query.limit), cursor: page.nextCursor });
          if (query.role !== undefined) next.set('role', query.role);
          if (query.q !== undefined) next.set('q', query.q);
          reply.header('Link', `</users?${next.toString()}>; rel="next"`);
        }
        return page.users.map(toUserResponse);
      },
    );

    app.get(
      '/users/:user_id',
      {
        onRequest: auth.required,
        schema: {
          tags: ['users'],
          summary: 'One user (themselves, or anyone for an admin)',
          security: bearer,
          params: UserIdParamsSchema,
          response: { 200: UserResponseSchema, ...errorResponses(401, 403, 404, 422) },
        },
      },
      async (request) =>
        toUserResponse(await users.getVisible(currentUser(request), request.params.user_id.toLowerCase())),
    );

    app.delete(
      '/users/:user_id',
      {
        onRequest: auth.required,
        schema: {
          tags: ['users'],
          summary: 'Delete a user (themselves, or anyone for an admin)',
          description: 'The last admin cannot be deleted (409).',
          security: bearer,
          params: UserIdParamsSchema,
          response: { 200: DeleteUserResponseSchema, ...errorResponses(401, 403, 404, 409, 422) },
        },
      },
      async (request) => {
        const id = request.params.user_id.toLowerCase();
        await users.remove(currentUser(request), id);
        return { message: 'User deleted successfully', user_id: id };
      },
    );
  };
}
