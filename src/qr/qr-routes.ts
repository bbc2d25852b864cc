/** POST /qr/generate and GET /qr/{user_id}, as the old service answered them. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { type Authenticator, currentUser } from '../auth/authenticate.js';
import { errorResponses } from '../http/error-schemas.js';
import { UserIdParamsSchema } from '../users/user-schemas.js';
import type { QrService } from './qr-service.js';

const QrCodeResponseSchema = Type.Object(
  {
    user_id: Type.String(),
    qr_code_base64: Type.String({ description: 'PNG, base64' }),
    data: Type.String({ examples: ['USER:6916cbc709d9eedb316de5c3|EMAIL:alice@example.com|ROLE:student'] }),
  },
  { title: 'QRCodeResponse' },
);

const bearer = [{ bearerAuth: [] }];

export function qrRoutes(deps: { qr: QrService; auth: Authenticator }): FastifyPluginAsyncTypebox {
  const { qr, auth } = deps;
  return async (app) => {
    app.post(
      '/qr/generate',
      {
        onRequest: auth.required,
        schema: {
          tags: ['qr'],
          summary: "Generate the current user's QR code",
          description: 'Draws the PNG, stores it on the user (`qr_code`) and returns it.',
          security: bearer,
          response: { 200: QrCodeResponseSchema, ...errorResponses(401) },
        },
      },
      async (request) => qr.generate(currentUser(request)),
    );

    app.get(
      '/qr/:user_id',
      {
        onRequest: auth.required,
        schema: {
          tags: ['qr'],
          summary: "A user's stored QR code (themselves, or anyone for an admin)",
          security: bearer,
          params: UserIdParamsSchema,
          response: { 200: QrCodeResponseSchema, ...errorResponses(401, 403, 404, 422) },
        },
      },
      async (request) => qr.get(currentUser(request), request.params.user_id.toLowerCase()),
    );
  };
}
