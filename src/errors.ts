/**
 * Domain errors with stable codes. Services throw these; the one error handler in app.ts maps
 * them to `{"detail": "...", "code": "..."}` with their status. Anything else is a 500 whose
 * body never carries internal text.
 */

export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
    /** Extra fields for the body beside detail and code (e.g. mfa_token). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = 'AppError';
  }
}

/** One FastAPI-shaped validation issue: `{"loc": [...], "msg": "...", "type": "..."}`. */
export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/** A validation failure found by a service rather than by the schema; answered as 422. */
export class ValidationFailed extends Error {
  constructor(readonly issues: ValidationIssue[]) {
    super(issues.map((i) => i.msg).join('; '));
    this.name = 'ValidationFailed';
  }
}

export const errors = {
  notAuthenticated: () =>
    new AppError(401, 'NOT_AUTHENTICATED', 'Not authenticated', { 'WWW-Authenticate': 'Bearer' }),
  invalidToken: () =>
    new AppError(401, 'INVALID_TOKEN', 'Could not validate credentials', {
      'WWW-Authenticate': 'Bearer error="invalid_token"',
    }),
  badCredentials: () =>
    new AppError(401, 'INVALID_CREDENTIALS', 'Incorrect email or password', { 'WWW-Authenticate': 'Bearer' }),
  adminRequired: () => new AppError(403, 'ADMIN_REQUIRED', 'Not authorized. Admin access required.'),
  forbidden: (detail = 'Not authorized to access this resource') => new AppError(403, 'FORBIDDEN', detail),
  roleForbidden: (role: string) =>
    new AppError(
      403,
      'ROLE_NOT_ALLOWED',
      `Public registration creates students only; a "${role}" account must be created by an admin (send an admin's bearer token)`,
    ),
  userExists: () => new AppError(400, 'USER_EXISTS', 'User with this email or username already exists'),
  userNotFound: () => new AppError(404, 'USER_NOT_FOUND', 'User not found'),
  qrNotGenerated: () => new AppError(404, 'QR_NOT_GENERATED', 'QR code not generated for this user'),
  lastAdmin: () => new AppError(409, 'LAST_ADMIN', 'The last admin cannot be removed; make another admin first'),
  accountLocked: (retryAfterSeconds: number) =>
    new AppError(429, 'ACCOUNT_LOCKED', 'Too many failed logins for this account; try again later', {
      'Retry-After': String(retryAfterSeconds),
    }),
  /** Every rate limit answers this (http/rate-limits.ts, and any route-level limit). */
  rateLimited: (retryAfterSeconds: number) =>
    new AppError(429, 'RATE_LIMITED', `Too many requests; retry in ${retryAfterSeconds} s`, {
      'Retry-After': String(retryAfterSeconds),
    }),
  /**
   * The service's own capacity, not the caller's rate: CPU-heavy work (password hashing, image
   * decoding) waits in bounded queues, and a full one refuses at once rather than letting
   * requests pile up. A code of its own, not RATE_LIMITED: the client did nothing wrong, and an
   * operator watching for BUSY learns the service needs more cores.
   */
  busy: (retryAfterSeconds: number) =>
    new AppError(429, 'BUSY', `The service is busy; retry in ${retryAfterSeconds} s`, {
      'Retry-After': String(retryAfterSeconds),
    }),
  accountDisabled: () => new AppError(403, 'ACCOUNT_DISABLED', 'This account is disabled'),
  mfaRequired: (mfaToken: string) =>
    new AppError(401, 'MFA_REQUIRED', 'A second factor is required: POST /auth/2fa/verify with this mfa_token', {}, {
      mfa_token: mfaToken,
    }),
  databaseUnavailable: () =>
    new AppError(503, 'DATABASE_UNAVAILABLE', 'The database is unavailable; try again shortly', { 'Retry-After': '5' }),
};
