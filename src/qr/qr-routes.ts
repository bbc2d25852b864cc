/**
 * The QR endpoints: POST /qr/generate and GET /qr/{user_id} as the old service answered them;
 * GET /qr/{user_id}/image (PNG or SVG, cacheable) and POST /qr/encode (a general encoder that
 * sends nothing to a third party).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Authenticator, currentUser } from '../auth/authenticate.js';
import { response } from '../http/doc-schemas.js';
import { errorResponses } from '../http/error-schemas.js';
import { UserIdParamsSchema } from '../users/user-schemas.js';
import type { RenderedImage } from '../qr-render/render-cache.js';
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
          description:
            'Draws the PNG, stores it on the user (`qr_code`) and returns it. With signed badges (QR_SIGNED) the ' +
            'code holds a new badge, and every earlier badge of the user stops verifying (`superseded`). Shares ' +
            'its per-user rate limit with POST /qr/scan.',
          security: bearer,
          response: {
            200: response("The user's new QR code", QrCodeResponseSchema),
            // 404: the user was deleted while their code was drawn.
            ...errorResponses({ 404: ['USER_NOT_FOUND'] }),
          },
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
          description:
            'The code POST /qr/generate made, as the old service answered it. A user may read only their own ' +
            '(403 `FORBIDDEN`); 404 `QR_NOT_GENERATED` until a code was generated.',
          security: bearer,
          params: UserIdParamsSchema,
          response: {
            200: response('The QR code', QrCodeResponseSchema),
            ...errorResponses({ 403: ['FORBIDDEN'], 404: ['USER_NOT_FOUND', 'QR_NOT_GENERATED'] }),
          },
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
          response: {
            200: ImageResponseSchema,
            304: { description: 'Not modified: the image of the `If-None-Match` ETag is still current' },
            ...errorResponses({ 403: ['FORBIDDEN'], 404: ['USER_NOT_FOUND', 'QR_NOT_GENERATED'] }),
          },
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
          response: { 200: ImageResponseSchema },
        },
      },
      async (request, reply) => {
        const { data, ...options } = request.body;
        return sendImage(request, reply, await qr.encode(data, options), 'private, max-age=3600');
      },
    );
  };
}
