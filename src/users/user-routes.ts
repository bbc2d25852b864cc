/** The /users endpoints: me, the admin's paged list, one user, creation and changes, deletion. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { RegisterBodySchema } from '../auth/login/auth-schemas.js';
import { ChangeEmailBodySchema } from '../auth/recovery/password-schemas.js';
import { type Authenticator, currentUser } from '../auth/authenticate.js';
import { withExamples, response } from '../http/doc-schemas.js';
import { errorResponses } from '../http/error-schemas.js';
import { requestContext } from '../http/request-context.js';
import {
  DeleteUserResponseSchema,
  ListUsersQuerySchema,
  toUserResponse,
  UpdateUserBodySchema,
  USER_EXAMPLE,
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
          description:
            'The user the bearer token belongs to, as stored now: a role or name changed since the token was ' +
            'issued shows here.',
          security: bearer,
          response: { 200: response('The user', UserResponseSchema, USER_EXAMPLE) },
        },
      },
      async (request) => toUserResponse(currentUser(request)),
    );

    app.post(
      '/users/me/email',
      {
        onRequest: auth.required,
        schema: {
          tags: ['users'],
          summary: 'Change your email',
          description:
            'Moves your account to another address. Needs the password again (403 `INVALID_PASSWORD` otherwise; ' +
            'wrong guesses count toward the same lock as failed logins, 429 `ACCOUNT_LOCKED`). The address must be ' +
            'valid and free (400 `USER_EXISTS` when another account has it; 422 when it is your address already). ' +
            'It is unverified until the link mailed to it is opened; reset and verification links mailed before stop ' +
            'working, and the previous address gets a notice of the change. Sessions stay signed in.',
          security: bearer,
          body: ChangeEmailBodySchema,
          response: {
            200: response('The user, with the new email, unverified', UserResponseSchema, {
              ...USER_EXAMPLE,
              email: 'alice.liddell@example.org',
              email_verified: false,
            }),
            // 404: the user was deleted while the email was being changed.
            ...errorResponses({
              400: ['USER_EXISTS'],
              403: ['INVALID_PASSWORD'],
              404: ['USER_NOT_FOUND'],
              429: ['ACCOUNT_LOCKED', 'BUSY'],
            }),
          },
        },
      },
      async (request) =>
        toUserResponse(
          await users.changeOwnEmail(
            currentUser(request),
            { email: request.body.email, password: request.body.password },
            requestContext(request),
          ),
        ),
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
          response: {
            200: response('A page of users', Type.Array(UserResponseSchema), [
              USER_EXAMPLE,
              { ...USER_EXAMPLE, id: '6916cbd209d9eedb316de5c4', username: 'bob', email: 'bob@example.com', full_name: 'Bob Ross', role: 'teacher' },
            ]),
            ...errorResponses({ 403: ['ADMIN_REQUIRED'] }),
          },
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
          description:
            'A user may read only themselves: any other id is 403 `FORBIDDEN`, whether or not it exists, so ids ' +
            'cannot be probed. An admin reads anyone (404 `USER_NOT_FOUND` for an unknown id).',
          security: bearer,
          params: UserIdParamsSchema,
          response: {
            200: response('The user', UserResponseSchema, USER_EXAMPLE),
            ...errorResponses({ 403: ['FORBIDDEN'], 404: ['USER_NOT_FOUND'] }),
          },
        },
      },
      async (request) =>
        toUserResponse(await users.getVisible(currentUser(request), request.params.user_id.toLowerCase())),
    );

    app.post(
      '/users',
      {
        onRequest: auth.admin,
        schema: {
          tags: ['users'],
          summary: 'Create a user with any role (admin)',
          description: 'Like POST /auth/register, with any `role` (default student), for an admin.',
          security: bearer,
          body: withExamples(RegisterBodySchema, {
            username: 'mr_bob',
            email: 'bob@example.com',
            password: 'a long passphrase',
            full_name: 'Bob Ross',
            role: 'teacher',
          }),
          response: {
            201: response('The new user', UserResponseSchema, {
              ...USER_EXAMPLE,
              username: 'mr_bob',
              email: 'bob@example.com',
              full_name: 'Bob Ross',
              role: 'teacher',
              email_verified: false,
            }),
            ...errorResponses({ 400: ['USER_EXISTS'], 403: ['ADMIN_REQUIRED'] }),
          },
        },
      },
      async (request, reply) => {
        const b = request.body;
        const user = await users.createByAdmin(
          currentUser(request),
          { username: b.username, email: b.email, password: b.password, fullName: b.full_name ?? null, role: b.role },
          requestContext(request),
        );
        return reply.code(201).send(toUserResponse(user));
      },
    );

    app.patch(
      '/users/:user_id',
      {
        onRequest: auth.required,
        schema: {
          tags: ['users'],
          summary: 'Change a user (admin: anything; a user: their own full_name and username)',
          description:
            'Send only the fields to change. An admin may change `role`, `disabled`, `email`, `full_name` and ' +
            '`username` of anyone; a user only their own `full_name` and `username` (403 for anything else). ' +
            'A new role or disabling logs the user out everywhere at once (their access and refresh tokens ' +
            'stop working); a new email must be verified again. The last admin cannot be demoted or ' +
            'disabled (409 `LAST_ADMIN`); a taken email or username answers 400 `USER_EXISTS`.',
          security: bearer,
          params: UserIdParamsSchema,
          body: withExamples(UpdateUserBodySchema, { full_name: 'Alice P. Liddell' }, { role: 'teacher' }),
          response: {
            200: response('The user as changed', UserResponseSchema, { ...USER_EXAMPLE, full_name: 'Alice P. Liddell' }),
            ...errorResponses({ 400: ['USER_EXISTS'], 403: ['FORBIDDEN'], 404: ['USER_NOT_FOUND'], 409: ['LAST_ADMIN'] }),
          },
        },
      },
      async (request) => {
        const b = request.body;
        const user = await users.update(
          currentUser(request),
          request.params.user_id.toLowerCase(),
          { username: b.username, email: b.email, fullName: b.full_name, role: b.role, disabled: b.disabled },
          requestContext(request),
        );
        return toUserResponse(user);
      },
    );

    app.delete(
      '/users/:user_id',
      {
        onRequest: auth.required,
        schema: {
          tags: ['users'],
          summary: 'Delete a user (themselves, or anyone for an admin)',
          description:
            'A user may delete only themselves (403 `FORBIDDEN` for any other id); an admin anyone. Their sessions, ' +
            'tokens and pending mails go with them. The last admin cannot be deleted (409 `LAST_ADMIN`).',
          security: bearer,
          params: UserIdParamsSchema,
          response: {
            200: response('Deleted', DeleteUserResponseSchema),
            ...errorResponses({ 403: ['FORBIDDEN'], 404: ['USER_NOT_FOUND'], 409: ['LAST_ADMIN'] }),
          },
        },
      },
      async (request) => {
        const id = request.params.user_id.toLowerCase();
        await users.remove(currentUser(request), id, requestContext(request));
        return { message: 'User deleted successfully', user_id: id };
      },
    );
  };
}
