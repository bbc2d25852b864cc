/** Response schemas of errors, for the OpenAPI document. */
import { Type } from 'typebox';

export const ErrorResponseSchema = Type.Object(
  {
    detail: Type.String(),
    code: Type.String({ description: 'Stable machine-readable error code' }),
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
