/**
 * Sign in by QR (qr-login.ts): start and poll for the device that wants to sign in; info,
 * approve and deny for the phone where the user is signed in.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../../errors.js';
import { noContent, response } from '../../http/doc-schemas.js';
import { errorResponses } from '../../http/error-schemas.js';
import { requestContext } from '../../http/request-context.js';
import { type Authenticator, currentUser } from '../authenticate.js';
import { type QrLoginService, QR_LOGIN_POLL_INTERVAL_SECONDS, QR_LOGIN_TTL_SECONDS } from './qr-login.js';
import type { SessionService } from '../sessions/session-service.js';
import { PATTERN_FORM } from '../../http/validators.js';

const bearer = [{ bearerAuth: [] }];
export const QR_LOGIN_SECRET_HEADER = 'x-qr-login-secret';

const IdParamsSchema = Type.Object({
  id: Type.String({
    pattern: '^[A-Za-z0-9_-]{22}$',
    [PATTERN_FORM]: 'the 22-character id from POST /auth/qr-login/start (letters, digits, - and _)',
    description: 'The id from POST /auth/qr-login/start',
  }),
});

const QR_LOGIN_ID_EXAMPLE = 'f3Qm9ZkR2xVb7LcN1pWs4A';

const StartResponseSchema = Type.Object(
  {
    id: Type.String(),
    secret: Type.String({ description: `Keep on this device: send it as ${QR_LOGIN_SECRET_HEADER} when polling` }),
    expires_in: Type.Integer({ description: `Seconds the request lives (${QR_LOGIN_TTL_SECONDS})` }),
    interval: Type.Integer({ description: `Seconds between polls (${QR_LOGIN_POLL_INTERVAL_SECONDS})` }),
    qr_data: Type.String({ description: 'What the QR says: ${PUBLIC_URL}/qr-login?id=… or authqr://login?id=…' }),
    qr_png_base64: Type.String({ description: 'The QR as a PNG, base64' }),
    qr_svg: Type.String({ description: 'The QR as SVG' }),
  },
  {
    title: 'QrLoginStarted',
    examples: [
      {
        id: QR_LOGIN_ID_EXAMPLE,
        secret: 'Vt8sK2mQ5xN9bR3cL7wP1zF4hJ6gD0aY2eU8iO5kTqM',
        expires_in: QR_LOGIN_TTL_SECONDS,
        interval: QR_LOGIN_POLL_INTERVAL_SECONDS,
        qr_data: `authqr://login?id=${QR_LOGIN_ID_EXAMPLE}`,
        qr_png_base64: 'iVBORw0KGgoAAAANSUhEUgAAASgAAAEoCAAAAAA…',
        qr_svg: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 296 296">…</svg>',
      },
    ],
  },
);

const PollResponseSchema = Type.Object(
  {
    status: Type.Enum(['pending', 'approved', 'denied']),
    expires_in: Type.Optional(
      Type.Integer({ description: 'pending: seconds the request has left; approved: seconds the access token lives' }),
    ),
    interval: Type.Optional(Type.Integer({ description: 'pending: seconds until the next poll' })),
    access_token: Type.Optional(Type.String()),
    token_type: Type.Optional(Type.Literal('bearer')),
    refresh_token: Type.Optional(Type.String()),
  },
  {
    title: 'QrLoginPoll',
    examples: [
      { status: 'pending', expires_in: 87, interval: QR_LOGIN_POLL_INTERVAL_SECONDS },
      {
        status: 'approved',
        access_token:
          'eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJzdWIiOiI2OTE2Y2JjNzA5ZDllZWRiMzE2ZGU1YzMifQ.c2lnbmF0dXJl',
        token_type: 'bearer',
        expires_in: 900,
        refresh_token: 'Jb3Yw2cV9pQm1xR7tK0sL4nA8eD6fH5gU2iO3yT1wZq',
      },
      { status: 'denied' },
    ],
  },
);

/** What a read (GET) of the request answers: never tokens. */
const StatusResponseSchema = Type.Object(
  {
    status: Type.Enum(['pending', 'approved', 'denied']),
    expires_in: Type.Optional(Type.Integer({ description: 'pending: seconds the request has left' })),
    interval: Type.Optional(Type.Integer({ description: 'pending: seconds until the next poll' })),
  },
  {
    title: 'QrLoginStatus',
    examples: [
      { status: 'pending', expires_in: 87, interval: QR_LOGIN_POLL_INTERVAL_SECONDS },
      { status: 'approved' },
      { status: 'denied' },
    ],
  },
);

const InfoResponseSchema = Type.Object(
  {
    id: Type.String(),
    status: Type.Enum(['pending', 'denied']),
    user_agent: Type.Union([Type.String(), Type.Null()]),
    ip: Type.Union([Type.String(), Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
    expires_at: Type.String({ format: 'date-time' }),
  },
  {
    title: 'QrLoginRequest',
    examples: [
      {
        id: QR_LOGIN_ID_EXAMPLE,
        status: 'pending',
        user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/145.0',
        ip: '203.0.113.7',
        created_at: '2025-11-14T09:00:00.000Z',
        expires_at: '2025-11-14T09:02:00.000Z',
      },
    ],
  },
);

export function qrLoginRoutes(deps: {
  qrLogin: QrLoginService;
  sessions: Pick<SessionService, 'api'>;
  auth: Authenticator;
}): FastifyPluginAsyncTypebox {
  const { qrLogin, sessions, auth } = deps;
  return async (app) => {
    app.post(
      '/auth/qr-login/start',
      {
        schema: {
          tags: ['auth'],
          summary: 'Sign in by QR: start a request and get its QR code',
          description:
            `Public. Show the QR; poll POST /auth/qr-login/{id} with the secret every \`interval\` seconds. The ` +
            `request lives ${QR_LOGIN_TTL_SECONDS} s and can be used once.`,
          response: {
            200: response('The request: its id, secret and QR', StartResponseSchema),
            ...errorResponses({ 503: ['DATABASE_UNAVAILABLE'] }),
          },
        },
      },
      async (request) => {
        return qrLogin.start(requestContext(request));
      },
    );

    const secretOf = (request: FastifyRequest): string => {
      const secret = request.headers[QR_LOGIN_SECRET_HEADER];
      if (typeof secret !== 'string' || secret === '' || secret.length > 256) {
        throw new AppError(401, 'QR_LOGIN_SECRET_REQUIRED', `Send the secret from start in the ${QR_LOGIN_SECRET_HEADER} header`);
      }
      return secret;
    };

    app.get(
      '/auth/qr-login/:id',
      {
        schema: {
          tags: ['auth'],
          summary: 'Sign in by QR: read the status (the device that started)',
          description:
            `Reads only, changes nothing: \`pending\`, \`denied\` or \`approved\` (without tokens: collect them with ` +
            `POST on the same path). The secret from start goes in the \`${QR_LOGIN_SECRET_HEADER}\` header (never in ` +
            'the URL: URLs are logged). A wrong secret is 403 and spoils nothing; 404 once expired or used.',
          params: IdParamsSchema,
          response: {
            200: response('Pending, denied, or approved (without tokens)', StatusResponseSchema),
            ...errorResponses({
              401: ['QR_LOGIN_SECRET_REQUIRED'],
              403: ['QR_LOGIN_SECRET_MISMATCH'],
              404: ['QR_LOGIN_NOT_FOUND'],
              503: ['DATABASE_UNAVAILABLE'],
            }),
          },
        },
      },
      async (request) => qrLogin.status(request.params.id, secretOf(request)),
    );

    app.post(
      '/auth/qr-login/:id',
      {
        schema: {
          tags: ['auth'],
          summary: 'Sign in by QR: poll and collect the tokens (the device that started)',
          description:
            `The secret from start goes in the \`${QR_LOGIN_SECRET_HEADER}\` header. \`pending\` until the phone ` +
            'decides; then the token pair, once — afterwards the id is gone (404). `denied` when the phone refused ' +
            '(used up too). A wrong secret is 403 and spoils nothing. If the user has two-factor authentication on, ' +
            '401 `MFA_REQUIRED` with an `mfa_token` for POST /auth/2fa/verify. The new session ends no later than ' +
            'the session that approved it.',
          params: IdParamsSchema,
          response: {
            200: response('Pending, denied, or approved with the token pair (once)', PollResponseSchema),
            ...errorResponses({
              401: ['QR_LOGIN_SECRET_REQUIRED', 'MFA_REQUIRED'],
              403: ['QR_LOGIN_SECRET_MISMATCH', 'ACCOUNT_DISABLED'],
              404: ['QR_LOGIN_NOT_FOUND'],
              503: ['DATABASE_UNAVAILABLE'],
            }),
          },
        },
      },
      async (request) => {
        const result = await qrLogin.collect(request.params.id, secretOf(request), requestContext(request), sessions.api);
        return 'signedIn' in result ? { status: 'approved' as const, ...result.signedIn } : result;
      },
    );

    app.get(
      '/auth/qr-login/:id/info',
      {
        onRequest: auth.required,
        schema: {
          tags: ['auth'],
          summary: 'Sign in by QR: which device asks (for the phone, before approving)',
          description:
            'The user agent, IP address and time of the device that started the request, for the user to ' +
            'recognise before approving. 404 `QR_LOGIN_NOT_FOUND` when unknown, expired or already approved.',
          security: bearer,
          params: IdParamsSchema,
          response: {
            200: response('The request', InfoResponseSchema),
            ...errorResponses({ 404: ['QR_LOGIN_NOT_FOUND'] }),
          },
        },
      },
      async (request) => qrLogin.info(request.params.id),
    );

    app.post(
      '/auth/qr-login/:id/approve',
      {
        onRequest: auth.required,
        schema: {
          tags: ['auth'],
          summary: 'Sign in by QR: approve (the phone where the user is signed in)',
          description:
            'Signs the device that started the request in as the bearer of this token. Show the user the device ' +
            '(GET …/info) first. Needs a live session (403 `SESSION_REQUIRED` otherwise); the new session ends no ' +
            'later than this one. 404 when unknown or expired, 409 when already approved or denied.',
          security: bearer,
          params: IdParamsSchema,
          response: {
            204: noContent('Approved'),
            ...errorResponses({
              403: ['SESSION_REQUIRED'],
              404: ['QR_LOGIN_NOT_FOUND'],
              409: ['QR_LOGIN_ALREADY_DECIDED'],
            }),
          },
        },
      },
      async (request, reply) => {
        await qrLogin.approve(currentUser(request), request.tokenClaims?.sid, request.params.id, requestContext(request));
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/auth/qr-login/:id/deny',
      {
        onRequest: auth.required,
        schema: {
          tags: ['auth'],
          summary: 'Sign in by QR: refuse ("this was not me")',
          description:
            'The device that started the request reads `denied` on its next poll (the request is gone after it). ' +
            '404 when unknown or expired, 409 when already approved or denied.',
          security: bearer,
          params: IdParamsSchema,
          response: {
            204: noContent('Denied'),
            ...errorResponses({ 404: ['QR_LOGIN_NOT_FOUND'], 409: ['QR_LOGIN_ALREADY_DECIDED'] }),
          },
        },
      },
      async (request, reply) => {
        await qrLogin.deny(currentUser(request), request.params.id, requestContext(request));
        return reply.code(204).send(null);
      },
    );
  };
}
