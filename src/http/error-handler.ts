/**
 * The one mapping from errors to HTTP answers. Domain errors carry their status and stable code;
 * Fastify's own 4xx (bad JSON, wrong content type, body too large) get a clear detail; anything
 * else is a 500 whose body says nothing about the inside (the log has the stack).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, errors, ValidationFailed } from '../errors.js';
import { StoreUnavailable } from '../store/store.js';
import { toValidationIssues } from './validation-errors.js';

const FRAMEWORK_ERRORS: Record<string, { code: string; detail: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'UNSUPPORTED_MEDIA_TYPE',
    detail: 'Unsupported Content-Type: send application/json',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE', detail: 'Request body is too large (limit 1 MiB)' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'INVALID_JSON', detail: 'Request body is empty but Content-Type is JSON' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'INVALID_JSON', detail: 'Request body is not valid JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'BAD_CONTENT_LENGTH', detail: 'Content-Length does not match the body' },
};

export function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (error.validation) {
    return reply.code(422).send({ detail: toValidationIssues(error.validation, error.validationContext) });
  }
  if (error instanceof ValidationFailed) return reply.code(422).send({ detail: error.issues });
  if (error instanceof StoreUnavailable) {
    request.log.error({ err: error }, 'database unavailable');
    return sendAppError(reply, errors.databaseUnavailable());
  }
  if (error instanceof AppError) return sendAppError(reply, error);

  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const known = FRAMEWORK_ERRORS[error.code];
    if (known !== undefined) return reply.code(status).send({ detail: known.detail, code: known.code });
    if (error instanceof SyntaxError) {
      return reply.code(400).send({ detail: 'Request body is not valid JSON', code: 'INVALID_JSON' });
    }
    return reply.code(status).send({ detail: error.message, code: 'BAD_REQUEST' });
  }
  request.log.error({ err: error }, 'unhandled error');
  return reply.code(500).send({ detail: 'Internal Server Error', code: 'INTERNAL_ERROR' });
}

function sendAppError(reply: FastifyReply, error: AppError) {
  return reply.code(error.statusCode).headers(error.headers).send({ detail: error.detail, code: error.code, ...error.extra });
}
