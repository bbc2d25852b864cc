/** Response schemas of errors, for the OpenAPI document. */
import { Type } from 'typebox';

export const ErrorResponseSchema = Type.Object(
  {
    detail: Type.String(),
    code: Type.String({ description: 'Stable machine-readable error code' }),
    // The serializer drops fields a schema does not name: the extras some errors carry are named here.
    mfa_token: Type.Optional(Type.String({ description: 'With MFA_REQUIRED: the token for POST /auth/2fa/verify' })),
    attempts_left: Type.Optional(Type.Integer({ description: 'With INVALID_MFA_CODE at login: codes this challenge still takes' })),
  },
  { title: 'ErrorResponse' },
);

export const ValidationErrorResponseSchema = Type.Object(
  {
    detail: Type.Array(
      Type.Object({
        loc: Type.Array(Type.Union([Type.String(), Type.Number()])),
        msg: Type.String(),
        type: Type.String(),
      }),
    ),
  },
  { title: 'ValidationErrorResponse' },
);

/** `{400: ErrorResponse, 422: ValidationErrorResponse, ...}` for the given statuses. */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((s) => [s, s === 422 ? ValidationErrorResponseSchema : ErrorResponseSchema]),
  ) as Record<number, typeof ErrorResponseSchema | typeof ValidationErrorResponseSchema>;
}
