/** GET /admin/audit: the security events, newest first, paged and filtered (admin only). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from 'typebox';
import type { Authenticator } from '../auth/authenticate.js';
import { defaultsOptional, response } from '../http/doc-schemas.js';
import { errorResponses } from '../http/error-schemas.js';
import type { AuditEvent } from '../store/store.js';
import { UserIdSchema } from '../users/user-schemas.js';
import type { AuditLog } from './audit-log.js';
import { PATTERN_FORM } from '../http/validators.js';

export const AuditQuerySchema = defaultsOptional(Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50, description: 'Page size (1–200)' }),
    before: Type.Optional(
      Type.String({
        pattern: '^[0-9a-fA-F]{24}$',
        [PATTERN_FORM]: 'a 24-character hex event id',
        description: 'Events older than this event id (the next page)',
      }),
    ),
    user_id: Type.Optional(UserIdSchema),
    type: Type.Optional(
      Type.String({
        pattern: '^[a-z0-9_.]{1,64}$',
        [PATTERN_FORM]: 'an event type: 1 to 64 lowercase letters, digits, _ or . (e.g. login.failed)',
        description: 'An event type, e.g. login.failed',
        examples: ['login.failed'],
      }),
    ),
  },
  { additionalProperties: false },
));

export const AuditEventSchema = Type.Object(
  {
    id: Type.String(),
    at: Type.String({ format: 'date-time' }),
    type: Type.String({ examples: ['login.succeeded'] }),
    user_id: Type.Union([Type.String(), Type.Null()], { description: 'The user the event is about' }),
    actor_id: Type.Union([Type.String(), Type.Null()], { description: 'Who did it, when someone else did (an admin)' }),
    ip: Type.Union([Type.String(), Type.Null()]),
    user_agent: Type.Union([Type.String(), Type.Null()]),
    detail: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()], {
      description: 'Event-specific facts (never a secret)',
    }),
  },
  { title: 'AuditEvent' },
);

const AUDIT_EVENT_EXAMPLE: Static<typeof AuditEventSchema> = {
  id: '6917b2e509d9eedb316de5e1',
  at: '2025-11-14T10:12:00.000Z',
  type: 'login.failed',
  user_id: '6916cbc709d9eedb316de5c3',
  actor_id: null,
  ip: '203.0.113.7',
  user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/145.0',
  detail: { reason: 'wrong_password', failures: 2 },
};

function toAuditEventResponse(event: AuditEvent): Static<typeof AuditEventSchema> {
  return {
    id: event.id,
    at: event.at.toISOString(),
    type: event.type,
    user_id: event.userId,
    actor_id: event.actorId,
    ip: event.ip,
    user_agent: event.userAgent,
    detail: parseDetail(event.detail),
  };
}

function parseDetail(detail: string | null): Record<string, unknown> | null {
  if (detail === null) return null;
  try {
    const value: unknown = JSON.parse(detail);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function auditRoutes(deps: { audit: AuditLog; auth: Authenticator }): FastifyPluginAsyncTypebox {
  const { audit, auth } = deps;
  return async (app) => {
    app.get(
      '/admin/audit',
      {
        onRequest: auth.admin,
        schema: {
          tags: ['admin'],
          summary: 'The audit log (admin): security events, newest first',
          description:
            'Logins (succeeded, failed, locked), refreshes and refresh-token reuse, logouts, password and ' +
            'email changes, role changes, disabling, 2FA changes, deletions; with time, user, actor, IP and ' +
            'user agent. Filter by `user_id` and `type`. Paged: `limit` (default 50, max 200); the next page ' +
            'is announced in a `Link: <…>; rel="next"` header (its `before` cursor); no Link header means the last page.',
          security: [{ bearerAuth: [] }],
          querystring: AuditQuerySchema,
          response: {
            200: response('A page of events, newest first', Type.Array(AuditEventSchema), [
              AUDIT_EVENT_EXAMPLE,
              {
                ...AUDIT_EVENT_EXAMPLE,
                id: '6917b1a009d9eedb316de5dd',
                at: '2025-11-14T09:58:00.000Z',
                type: 'user.role_changed',
                actor_id: '6915e0aa09d9eedb316de59f',
                detail: { from: 'student', to: 'teacher' },
              },
            ]),
            ...errorResponses({ 403: ['ADMIN_REQUIRED'] }),
          },
        },
      },
      async (request, reply) => {
        const query = request.query;
        const filter = { userId: query.user_id?.toLowerCase(), type: query.type };
        // One more than the page tells whether a next page exists.
        const rows = await audit.list({ limit: query.limit + 1, before: query.before?.toLowerCase(), ...filter });
        const events = rows.slice(0, query.limit);
        const last = events.at(-1);
        if (rows.length > query.limit && last !== undefined) {
          const next = new URLSearchParams({ limit: String(query.limit), before: last.id });
          if (filter.userId !== undefined) next.set('user_id', filter.userId);
          if (filter.type !== undefined) next.set('type', filter.type);
          reply.header('Link', `</admin/audit?${next.toString()}>; rel="next"`);
        }
        return events.map(toAuditEventResponse);
      },
    );
  };
}
