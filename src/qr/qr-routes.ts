/**
 * The QR endpoints: POST /qr/generate and GET /qr/{user_id} as the old service answered them;
 * GET /qr/{user_id}/image (PNG or SVG, cacheable) and POST /qr/encode (a general encoder that
 * sends nothing to a third party).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Authenticator, currentUser } from '../auth/authenticate.js';
import { errorResponses } from '../http/error-schemas.js';
import { UserIdParamsSchema } from '../users/user-schemas.js';
import type { RenderedImage } from './render-cache.js';
import { EncodeBodySchema, ImageQuerySchema, ImageResponseSchema, QrCodeResponseSchema } from './qr-schemas.js';
import type { QrService } from './qr-service.js';

const bearer = [{ bearerAuth: [] }];

function sendImage(request: FastifyRequest, reply: FastifyReply, image: RenderedImage, cacheControl: string) {
  reply.header('etag', image.etag).header('cache-control', cacheControl).header('vary', 'Authorization');
  const match = request.headers['if-none-match'];
  if (match !== undefined && match.split(',').some((tag) => tag.trim() === image.etag || tag.trim() === '*')) {
    return reply.code(304).send();
  }
  return reply.type(image.contentType).send(image.body);
}

/** POST /qr/encode is rate limited per user by http/rate-limits.ts (QR_ENCODE_RATE_LIMIT). */
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

    app.get(
      '/qr/:user_id/image',
      {
        onRequest: auth.required,
        schema: {
          tags: ['qr'],
          summary: "A user's QR code as an image (PNG or SVG)",
          description:
            'Same access rules as GET /qr/{user_id}. `ETag` and `If-None-Match` (304) let clients cache it. ' +
            'Colours as 6 hex digits (`dark=1a237e`); dark must be clearly darker than light.',
          security: bearer,
          params: UserIdParamsSchema,
          querystring: ImageQuerySchema,
          response: { 200: ImageResponseSchema, 304: { description: 'Not modified' }, ...errorResponses(401, 403, 404, 422) },
        },
      },
      async (request, reply) => {
        const image = await qr.image(currentUser(request), request.params.user_id.toLowerCase(), request.query);
        return sendImage(request, reply, image, 'private, max-age=300');
      },
    );

    app.post(
      '/qr/encode',
      {
        onRequest: auth.required,
        schema: {
          tags: ['qr'],
          summary: 'Encode any text as a QR image (PNG or SVG)',
          description:
            'A private QR encoder (like the public create-qr-code APIs, without sending data to a third party). ' +
            'Data up to 2048 characters; rate limited per user (429 with Retry-After).',
          security: bearer,
          body: EncodeBodySchema,
          response: { 200: ImageResponseSchema, ...errorResponses(401, 422, 429) },
        },
      },
      async (request, reply) => {
        const { data, ...options } = request.body;
        return sendImage(request, reply, await qr.encode(data, options), 'private, max-age=3600');
      },
    );
  };
}
