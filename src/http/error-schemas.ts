/**
 * Response schemas of errors, for the OpenAPI document: each route says which `code` values it
 * answers at each status, `errorResponses({ 404: ['USER_NOT_FOUND'] })`, and the document lists
 * them (the `code` enum and the response's description). The errors every route of a kind can
 * answer (a bearer token, a body, a rate limit) are added to each route by `withCommonErrors`
 * (openapi.ts), so routes list only their own.
 */
import { Type } from 'typebox';
import { MAX_VALIDATION_ISSUES } from './validation-errors.js';

/**
 * Every error code of the API and what it means, said once. A code a route lists must be here
 * (the type says so), and a test checks that each is really answered somewhere in src/.
 */
export const ERROR_CODES = {
  // Requests the framework could not read (http/error-handler.ts).
  INVALID_JSON: 'The body is not valid JSON, or is empty with a JSON Content-Type',
  BAD_CONTENT_LENGTH: 'Content-Length does not match the body',
  PAYLOAD_TOO_LARGE: 'The body is larger than this route takes',
  UNSUPPORTED_MEDIA_TYPE: 'A Content-Type this route does not read',
  // Authentication and authorization.
  NOT_AUTHENTICATED: 'No bearer token was sent (or the Authorization header is not `Bearer <token>`)',
  INVALID_TOKEN: 'The token is expired, forged or revoked, or its user was deleted or disabled: log in again',
  INVALID_CREDENTIALS: 'Wrong email (or username) or password; the same answer for both, so accounts cannot be probed',
  MFA_REQUIRED: 'The password was right and two-factor authentication is on: POST /auth/2fa/verify with the `mfa_token`',
  ACCOUNT_DISABLED: 'The account is disabled by an admin',
  ACCOUNT_LOCKED:
    'Too many failed attempts on this account (from this address, or from everywhere): locked for a growing, capped time (`Retry-After`)',
  ADMIN_REQUIRED: 'Only an admin may do this',
  FORBIDDEN: 'Not yours: a user may only see or change themselves',
  ROLE_NOT_ALLOWED: "Public registration creates students only; another role needs an admin's token",
  CSRF_FAILED: "A web page's form came from another site or is too old (the web front's pages only, never the API)",
  RATE_LIMITED: 'Too many requests; try again after `Retry-After` seconds',
  BUSY: 'The service is at capacity for this kind of work (hashing passwords, reading images); try again after `Retry-After` seconds',
  // Sessions and tokens.
  INVALID_REFRESH_TOKEN: 'The refresh token is unknown, used, expired or revoked: log in again',
  SESSION_NOT_FOUND: 'No active session of yours has this id',
  SESSION_REQUIRED: "The token's session is no longer live (or the token has none): sign in again on this device",
  UNSUPPORTED_GRANT_TYPE: 'Only `grant_type=password` is supported',
  // Passwords and email.
  INVALID_CURRENT_PASSWORD: 'The current password is not correct',
  INVALID_RESET_TOKEN: 'The reset token is unknown, used or expired: request a new one',
  INVALID_VERIFICATION_TOKEN: 'The verification token is unknown, used or expired',
  EMAIL_ALREADY_VERIFIED: 'The email address is verified already',
  OUTBOX_DISABLED: 'Mail goes through SMTP (SMTP_URL is set): there is no development outbox',
  // Two-factor authentication.
  INVALID_PASSWORD: 'The password is not correct',
  INVALID_MFA_CODE: 'The code is wrong or was used already (`attempts_left` says how many the login challenge still takes)',
  INVALID_MFA_TOKEN: 'The `mfa_token` is unknown, expired or used up: log in again',
  TOTP_ALREADY_ENABLED: 'Two-factor authentication is on already: disable it first',
  TOTP_NOT_SET_UP: 'No pending secret: POST /auth/2fa/totp/setup first',
  TOTP_NOT_ENABLED: 'Two-factor authentication is not on',
  // Users.
  USER_EXISTS: 'Another user has this email or username',
  USER_NOT_FOUND: 'No user has this id (or it was deleted meanwhile)',
  LAST_ADMIN: 'The last admin cannot be deleted, demoted or disabled: make another admin first',
  // QR codes and badges.
  QR_NOT_GENERATED: 'This user has no QR code yet: POST /qr/generate first',
  FILE_REQUIRED: 'The multipart body has no `file` field',
  INVALID_IMAGE: 'The file is not a readable PNG or JPEG',
  IMAGE_TOO_LARGE: 'The image has more pixels than are decoded',
  NO_QR_FOUND: 'No QR code was found in the image',
  IMAGE_TOO_COMPLEX: 'Reading the image took more than the CPU time one image may have',
  MULTIPLE_QR: 'The image holds more than one QR code',
  // Sign in by QR.
  QR_LOGIN_SECRET_REQUIRED: 'The `x-qr-login-secret` header is missing (or longer than 256 characters)',
  QR_LOGIN_SECRET_MISMATCH: 'Wrong secret for this sign-in request (nothing is spoiled)',
  OIDC_CLIENT_NOT_FOUND: 'No OpenID Connect client has this id',
  QR_LOGIN_NOT_FOUND: 'No such sign-in request: unknown, expired or used',
  QR_LOGIN_ALREADY_DECIDED: 'The sign-in request was approved or denied already',
  // Passkeys.
  PASSKEY_CHALLENGE_INVALID: 'The passkey challenge is unknown, used, expired, or of the other ceremony (or user): begin again',
  PASSKEY_INVALID: 'The passkey response could not be verified (signature, origin, RP ID, user verification, counter, backup flag, or an unknown or another user\'s credential)',
  PASSKEY_EXISTS: 'This credential is registered already',
  PASSKEY_LIMIT: 'The account has as many passkeys as it may: remove one first',
  PASSKEY_NOT_FOUND: 'You have no passkey with this id',
  LAST_SIGN_IN_METHOD: 'The passkey is the only way to sign in to the account (no password, no other passkey)',
  REAUTH_REQUIRED: 'The sign-in is older than 5 minutes: send the password again',
  PASSKEYS_NOT_CONFIGURED: 'Passkeys are off on this server (no WEBAUTHN_ORIGINS or PUBLIC_URL in production)',
  // Attendance (attendance/).
  TEACHER_REQUIRED: 'Only a teacher or an admin may do this (and only an admin may change the teachers of a course)',
  COURSE_NOT_FOUND: 'No course of yours has this id (a course you do not teach answers the same)',
  ATTENDANCE_SESSION_NOT_FOUND: 'No attendance session has this id (in this course)',
  STUDENT_NOT_ON_ROSTER: 'This student is not on the roster of this course',
  NOT_ON_ROSTER: 'You are not on the roster of this course, and the session is not open to walk-ins',
  UNKNOWN_STUDENTS: 'Some names are no (enabled) user: `unknown` lists them; nothing was added',
  INVALID_TEACHERS: 'Some names are no teacher or admin: `unknown` lists them; nothing was changed',
  INVALID_CSV: 'The CSV cannot be read (an unclosed quote), names nobody, or has too many rows',
  INVALID_SCHEDULE: 'The session would end before it starts, in the past, or after more than 12 hours',
  INVALID_CODE: "The code is not this session's (a wrong or another session's code)",
  CODE_EXPIRED: 'The code was valid two periods ago or earlier: scan the one on the screen now',
  SESSION_ENDED: 'The session has ended',
  SESSION_NOT_STARTED: 'The session has not started yet',
  SHARED_DEVICE: "Another account already checked in from this device in this session, and the course refuses that",
  INVALID_TICKET: 'The arrival ticket is unknown, used, older than 2 minutes, or from another device',
  // The service.
  DATABASE_UNAVAILABLE: 'The database does not answer; try again after `Retry-After` seconds',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
/** The statuses the API answers with an error body. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 503;
export type ErrorCodesByStatus = { [S in ErrorStatus]?: readonly ErrorCode[] };

const STATUS_TEXT: Record<ErrorStatus, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Unprocessable content',
  429: 'Too many requests',
  503: 'Service unavailable',
};

/** Answers that tell the client when to come back. */
const RETRY_AFTER = { 'retry-after': { type: 'integer', description: 'Seconds to wait before trying again' } };

/** The shape of every `{detail, code}` error; the routes' schemas are this with their codes. */
export const ErrorResponseSchema = Type.Object(
  {
    detail: Type.String({ description: 'What went wrong, for people' }),
    code: Type.String({ description: 'Stable machine-readable error code' }),
    // The serializer drops fields a schema does not name: the extras some errors carry are named here.
    mfa_token: Type.Optional(Type.String({ description: 'With MFA_REQUIRED: the token for POST /auth/2fa/verify' })),
    attempts_left: Type.Optional(Type.Integer({ description: 'With INVALID_MFA_CODE at login: codes this challenge still takes' })),
    unknown: Type.Optional(
      Type.Array(Type.Object({ line: Type.Integer(), value: Type.String() }), {
        description: 'With UNKNOWN_STUDENTS and INVALID_TEACHERS: each name that is not one, with its line (or position)',
      }),
    ),
  },
  { title: 'ErrorResponse' },
);

export const ValidationErrorResponseSchema = Type.Object(
  {
    detail: Type.Array(
      Type.Object({
        loc: Type.Array(Type.Union([Type.String(), Type.Number()]), {
          description: 'Where: body, query, path or header, then the field',
        }),
        msg: Type.String({ description: 'What is wrong, for people' }),
        type: Type.String({ description: 'The kind of problem, e.g. missing, string_too_short, string_pattern_mismatch' }),
      }),
      { maxItems: MAX_VALIDATION_ISSUES },
    ),
  },
  {
    title: 'ValidationErrorResponse',
    'x-response-description':
      `Validation failed. \`detail\` lists every problem of the request, at most ${MAX_VALIDATION_ISSUES} ` +
      '(FastAPI\'s shape: `loc`, `msg`, `type`). A value that breaks a pattern is told the expected form.',
    examples: [
      {
        detail: [
          { loc: ['body', 'email'], msg: 'value is not a valid email address', type: 'value_error' },
          { loc: ['body', 'password'], msg: 'Field required', type: 'missing' },
        ],
      },
    ],
  },
);

type ErrorSchema = typeof ErrorResponseSchema | typeof ValidationErrorResponseSchema;

/** The codes a `{detail, code}` response schema lists; undefined for any other schema. */
export function codesOf(schema: unknown): ErrorCode[] | undefined {
  const code = (schema as { properties?: { code?: { enum?: unknown } } } | undefined)?.properties?.code;
  return Array.isArray(code?.enum) ? (code.enum as ErrorCode[]) : undefined;
}

/** A fresh `{detail, code}` schema listing `codes`, described for the document. */
function errorSchema(status: number, codes: readonly ErrorCode[]): typeof ErrorResponseSchema {
  const unique = [...new Set(codes)];
  const lines = unique.map((code) => `- \`${code}\`: ${ERROR_CODES[code]}`);
  const title = STATUS_TEXT[status as ErrorStatus] ?? 'Error';
  const schema = Type.Object(
    {
      detail: Type.String({ description: 'What went wrong, for people' }),
      code: Type.String({ enum: unique, description: 'Stable machine-readable error code' }),
      ...(unique.includes('MFA_REQUIRED') ? { mfa_token: ErrorResponseSchema.properties.mfa_token } : {}),
      ...(unique.includes('INVALID_MFA_CODE') ? { attempts_left: ErrorResponseSchema.properties.attempts_left } : {}),
      ...(unique.includes('UNKNOWN_STUDENTS') || unique.includes('INVALID_TEACHERS') ? { unknown: ErrorResponseSchema.properties.unknown } : {}),
    },
    {
      title: 'ErrorResponse',
      'x-response-description': `${title}. \`code\` is one of:\n\n${lines.join('\n')}`,
      ...(status === 429 || status === 503 ? { headers: RETRY_AFTER } : {}),
    },
  );
  return schema as unknown as typeof ErrorResponseSchema;
}

/**
 * The error responses of a route: a `{detail, code}` schema for each status, listing the codes
 * given. The validation 422 is added by itself to routes that validate their input.
 */
export function errorResponses(codes: ErrorCodesByStatus) {
  return Object.fromEntries(
    Object.entries(codes).map(([status, list]) => [status, errorSchema(Number(status), list)]),
  ) as Record<number, ErrorSchema>;
}

/** What a route is, as far as the errors every route of its kind can answer go. */
export interface RouteKind {
  /** Takes a bearer token (required or optional): the token is checked and its user loaded. */
  bearer: boolean;
  /** Reads a request body (POST, PUT, PATCH). */
  body: boolean;
  /** Validates a body, query string, path or headers against a schema. */
  validated: boolean;
  /** A rate limit applies. */
  rateLimited: boolean;
}

/** The errors every route of a kind can answer, whatever its own. */
export function commonErrors(kind: RouteKind): ErrorCodesByStatus {
  const codes: ErrorCodesByStatus = {};
  const add = (status: ErrorStatus, ...list: ErrorCode[]) => {
    codes[status] = [...(codes[status] ?? []), ...list];
  };
  if (kind.body) {
    add(400, 'INVALID_JSON', 'BAD_CONTENT_LENGTH');
    add(413, 'PAYLOAD_TOO_LARGE');
    add(415, 'UNSUPPORTED_MEDIA_TYPE');
  }
  if (kind.bearer) {
    add(401, 'NOT_AUTHENTICATED', 'INVALID_TOKEN');
    // The token's user is loaded on every request.
    add(503, 'DATABASE_UNAVAILABLE');
  }
  if (kind.rateLimited) add(429, 'RATE_LIMITED');
  return codes;
}

/**
 * `response` with the common errors of `kind` added: codes merged into the route's own schema of
 * that status, or a new one; a validation 422 where input is validated and no 422 is declared.
 * A status whose schema has no `code` (a health check's 503) is left as it is.
 */
export function withCommonErrors(response: Record<string, unknown>, kind: RouteKind): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...response };
  for (const [status, codes] of Object.entries(commonErrors(kind))) {
    const existing = merged[status];
    if (existing === undefined) merged[status] = errorSchema(Number(status), codes);
    else {
      const own = codesOf(existing);
      if (own !== undefined) merged[status] = errorSchema(Number(status), [...own, ...codes]);
    }
  }
  if (kind.validated && merged[422] === undefined) merged[422] = ValidationErrorResponseSchema;
  return merged;
}
