/**
 * POST /qr/verify (a badge's text) and POST /qr/scan (a photo of it): is this badge valid now?
 *
 * /qr/verify is public: a door or desk scanner has no user session, and the answer gives nothing
 * away unless the badge carries our signature. /qr/scan needs a bearer token: decoding an image
 * costs real CPU (up to a second of a core for a phone photo, on a worker thread: qr-scan.ts),
 * too much to offer anonymously.
 */
import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyRequest } from 'fastify';
import type { Authenticator } from '../auth/authenticate.js';
import { AppError } from '../errors.js';
import { handleError } from '../http/error-handler.js';
import { response } from '../http/doc-schemas.js';
import { errorResponses } from '../http/error-schemas.js';
import type { BadgeVerifier } from './badge-verifier.js';
import { defaultQrScanner, type QrScanner, SCAN_MAX_BYTES, scanErrors } from './qr-scan.js';
import { ScanResponseSchema, VerifyBodySchema, VerifyResponseSchema } from './qr-schemas.js';

const IMAGE_TYPES = ['image/png', 'image/jpeg'];
/**
 * What a multipart part may declare: browsers send application/octet-stream for unknown files.
 * The badge checker's upload form (web/pages/check-pages.ts) accepts the same.
 */
export const PART_TYPES = [...IMAGE_TYPES, 'image/jpg', 'application/octet-stream'];

/** Fastify's own errors in the scan scope, said in terms of images rather than JSON. */
function translate(error: FastifyError): Error {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return scanErrors.unsupportedType();
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
      return scanErrors.tooLarge();
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
    case 'FST_MULTIPART_INVALID_CONTENT_TYPE':
      return scanErrors.unsupportedType();
    default:
      return error;
  }
}

async function uploadedBytes(request: FastifyRequest): Promise<Buffer> {
  if (request.isMultipart()) {
    const part = await request.file();
    if (part === undefined || part.fieldname !== 'file') throw scanErrors.fileRequired();
    if (!PART_TYPES.includes(part.mimetype.toLowerCase())) throw scanErrors.unsupportedType();
    return part.toBuffer();
  }
  if (Buffer.isBuffer(request.body)) return request.body;
  throw scanErrors.unsupportedType();
}

/**
 * The request body per content type, for the OpenAPI document. No `type` keywords: the bytes arrive
 * as a Buffer (or, for multipart, are read by the handler), which the validator must let through.
 */
const ScanBodySchema = {
  content: {
    'image/png': { schema: { format: 'binary', description: 'PNG bytes' } },
    'image/jpeg': { schema: { format: 'binary', description: 'JPEG bytes' } },
    'multipart/form-data': {
      schema: { properties: { file: { type: 'string', format: 'binary', description: 'A PNG or JPEG' } }, required: ['file'] },
    },
  },
};

/** `scanner`: the default budget on the process's CPU pool unless given (tests). */
export function badgeRoutes(deps: { verifier: BadgeVerifier; auth: Authenticator; scanner?: QrScanner }): FastifyPluginAsyncTypebox {
  const { verifier, auth } = deps;
  const scanner = deps.scanner ?? defaultQrScanner();
  return async (app) => {
    app.post(
      '/qr/verify',
      {
        schema: {
          tags: ['qr'],
          summary: 'Check a QR badge',
          description:
            'Public (for door and desk scanners). Always 200 with a verdict: `valid: false` with a `reason` for a ' +
            'changed byte (`bad_signature`), a key not ours (`unknown_key`), an expired badge, the old plain payload ' +
            "(`unsigned`), text that is no badge (`malformed`), and — checked online — a deleted or disabled user, " +
            'a badge superseded by a newer POST /qr/generate, or a role or email changed since issue.',
          body: VerifyBodySchema,
          response: {
            200: response('The verdict', VerifyResponseSchema),
            // The badge's user is looked up (deleted, disabled, superseded?).
            ...errorResponses({ 503: ['DATABASE_UNAVAILABLE'] }),
          },
        },
      },
      async (request) => verifier.verify(request.body.data),
    );

    // Only this scope reads images and multipart bodies.
    await app.register(async (scope) => {
      await scope.register(multipart, {
        limits: { fileSize: SCAN_MAX_BYTES, files: 1, fields: 10, parts: 20, fieldSize: 1024, headerPairs: 100 },
      });
      scope.addContentTypeParser(IMAGE_TYPES, { parseAs: 'buffer', bodyLimit: SCAN_MAX_BYTES }, (_request, body, done) =>
        done(null, body),
      );
      scope.setErrorHandler((error: FastifyError, request, reply) => {
        const translated = translate(error);
        return handleError((translated instanceof AppError ? translated : error) as FastifyError, request, reply);
      });

      scope.post(
        '/qr/scan',
        {
          onRequest: auth.required,
          bodyLimit: SCAN_MAX_BYTES,
          schema: {
            tags: ['qr'],
            summary: 'Read the QR badge in a photo and check it',
            description:
              'The body is a PNG or JPEG: raw (`Content-Type: image/png` or `image/jpeg`) or multipart/form-data ' +
              `with a \`file\` field; at most ${SCAN_MAX_BYTES / 1024 / 1024} MiB and 16 megapixels. Answers what ` +
              'POST /qr/verify answers, with the text found (`data`). 422 `NO_QR_FOUND`, `MULTIPLE_QR`, ' +
              '`INVALID_IMAGE`, `IMAGE_TOO_LARGE` (too many pixels, or too much memory to decode) or ' +
              '`IMAGE_TOO_COMPLEX` (its search took more than the CPU time one image may have); 413 for a ' +
              'larger upload; 415 for another content type; 429 `BUSY` with Retry-After when the images ' +
              'waiting to be read fill their queue.',
            security: [{ bearerAuth: [] }],
            body: ScanBodySchema,
            // Its 422s are about the image (NO_QR_FOUND ...), in the {detail, code} shape.
            response: {
              200: response('The verdict, with the text found', ScanResponseSchema),
              ...errorResponses({
                413: ['PAYLOAD_TOO_LARGE'],
                415: ['UNSUPPORTED_MEDIA_TYPE'],
                422: ['FILE_REQUIRED', 'INVALID_IMAGE', 'IMAGE_TOO_LARGE', 'IMAGE_TOO_COMPLEX', 'NO_QR_FOUND', 'MULTIPLE_QR'],
                429: ['BUSY'],
              }),
            },
          },
        },
        async (request) => {
          const data = await scanner.read(await uploadedBytes(request));
          return { ...(await verifier.verify(data)), data };
        },
      );
    });
  };
}
