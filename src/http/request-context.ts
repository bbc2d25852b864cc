/** The who-and-where of a request, for sessions and the audit log. */
import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../audit/audit-log.js';

export function requestContext(request: FastifyRequest): RequestContext {
  const userAgent = request.headers['user-agent'];
  return { ip: request.ip ?? null, userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 512) : null };
}
