/**
 * The one mapping from errors to HTTP answers. Domain errors carry their status and stable code;
 * Fastify's own 4xx (bad JSON, wrong content type, body too large) get a clear detail; anything
 * else is a 500 whose body says nothing about the inside (the log has the stack).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, errors, ValidationFailed } from '../errors.js';
import { StoreUnavailable } from '../store/store.js';
import { apiHeaders } from './security-headers.js';
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

/**
 * Fastify's `frameworkErrors`: requests the router could not match, answered before any hook runs
 * (so the headers every answer carries are set here). A path segment longer than the router takes
 * (100 characters: no id is that long) is 414 URI_TOO_LONG; a broken %-escape is 400 BAD_URL.
 * A browser asking for a page gets the 404 page instead: to a person, such an address names nothing.
 */
export interface Unroutable {
  /** The web front's 404 page and whether a request asks for a page; set once the web front exists. */
  page: { wanted(request: FastifyRequest): boolean; render(request: FastifyRequest, reply: FastifyReply): unknown } | null;
}

export function unroutableHandler(late: Unroutable) {
  const headers = apiHeaders();
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    reply.header('x-request-id', request.id);
    if (late.page?.wanted(request)) return late.page.render(request, reply);
    reply.headers(headers);
    if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
      return reply.code(414).send({ detail: 'A part of the address is longer than 100 characters (no id is that long)', code: 'URI_TOO_LONG' });
    }
    if (error.code === 'FST_ERR_BAD_URL') return reply.code(400).send({ detail: 'The address is not valid: a %-escape in it is broken', code: 'BAD_URL' });
    return reply.code(400).send({ detail: 'The address cannot be routed', code: 'BAD_REQUEST' });
  };
}
