/** GET /admin/outbox: the development outbox, for admins, when no SMTP server is configured. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Authenticator } from '../auth/authenticate.js';
import { AppError } from '../errors.js';
import { response } from '../http/doc-schemas.js';
import { errorResponses } from '../http/error-schemas.js';
import type { DevOutbox } from './dev-outbox.js';

const OutboxResponseSchema = Type.Object(
  {
    messages: Type.Array(
      Type.Object({
        to: Type.String(),
        subject: Type.String(),
        text: Type.String(),
        sent_at: Type.String({ format: 'date-time' }),
      }),
    ),
  },
  {
    title: 'Outbox',
    examples: [
      {
        messages: [
          {
            to: 'alice@example.com',
            subject: 'Reset your password',
            text: 'Someone asked to reset the password of your account. Your reset token: mZ1xq0Vd8GgP3sT6bN2cH7kLwE9rY4uJ5aF0oI1pQzA …',
            sent_at: '2025-11-14T10:20:00.000Z',
          },
        ],
      },
    ],
  },
);

export function outboxRoutes(deps: { outbox: DevOutbox | null; auth: Authenticator }): FastifyPluginAsyncTypebox {
  const { outbox, auth } = deps;
  return async (app) => {
    app.get(
      '/admin/outbox',
      {
        onRequest: auth.admin,
        schema: {
          tags: ['admin'],
          summary: 'Mails kept by the development outbox (admin; only without SMTP_URL)',
          description:
            'Without SMTP_URL, reset and verification mails are not sent but kept here (the latest 100, newest ' +
            'first) and logged, so the flows work with no mail server. With SMTP_URL set this answers 404.',
          security: [{ bearerAuth: [] }],
          response: {
            200: response('The kept mails, newest first', OutboxResponseSchema),
            ...errorResponses({ 403: ['ADMIN_REQUIRED'], 404: ['OUTBOX_DISABLED'] }),
          },
        },
      },
      async () => {
        if (outbox === null) {
          throw new AppError(404, 'OUTBOX_DISABLED', 'Mail is sent through SMTP (SMTP_URL); there is no outbox');
        }
        return {
          messages: outbox.list().map((m) => ({ to: m.to, subject: m.subject, text: m.text, sent_at: m.sentAt.toISOString() })),
        };
      },
    );
  };
}
