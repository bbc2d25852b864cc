/**
 * The one log line per request: `{"level":${INFO},"time":…,"pid":…,"hostname":…,"reqId":…,"method":…,
 * "url":…,"ip":…,"status":…,"ms":…,"user":…,"msg":"request"}`, the same JSON pino would write.
 * `ip` is `request.ip`: the client's address as TRUST_PROXY resolves it (the proxy's own address
 * unless the proxy is trusted), the one the rate limits count by.
 *
 * Written here rather than through `request.log.info(...)`: pino's general path (child bindings,
 * level and hook checks, key-by-key serialisation) was ~3 µs of a ~30 µs request (bench/: CPU time
 * per request of `me`); this template is a fraction of that. Only for a pino logger that writes
 * to a stream (the server's); any other logger (tests: none) gets the same fields through its
 * own `info`.
 *
 * Query strings are logged with the values of secret-looking parameters masked: a single-use
 * token in a link must not end up in the log.
 */
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { pino } from 'pino';

/** Query parameters whose values never reach the log: any name containing one of these words. */
const SECRET_PARAM_RE = /([?&][^=&#]*(?:token|code|password|passwd|secret|key|signature)[^=&#]*=)[^&#]*/gi;

export function loggedUrl(url: string): string {
  return url.includes('?') ? url.replace(SECRET_PARAM_RE, '$1[Redacted]') : url;
}

const INFO = 30;

export type AccessLog = (request: FastifyRequest, reply: FastifyReply) => void;

interface PinoInternals {
  [pino.symbols.streamSym]?: { write(line: string): unknown };
  [pino.symbols.chindingsSym]?: string;
}

export function createAccessLog(logger: FastifyBaseLogger): AccessLog {
  const internals = logger as FastifyBaseLogger & PinoInternals;
  const stream = internals[pino.symbols.streamSym];
  const bindings = internals[pino.symbols.chindingsSym];
  const fields = (request: FastifyRequest, reply: FastifyReply) => ({
    method: request.method,
    url: loggedUrl(request.url),
    // Undefined once the client has gone (Node clears remoteAddress on a destroyed socket).
    ip: request.ip as string | undefined,
    status: reply.statusCode,
    ms: Math.round(reply.elapsedTime * 10) / 10,
    user: request.user?.id,
  });
  if (stream === undefined || typeof bindings !== 'string') {
    return (request, reply) => request.log.info(fields(request, reply), 'request');
  }
  const q = JSON.stringify;
  return (request, reply) => {
    if ((pino.levels.values[logger.level] ?? Number.POSITIVE_INFINITY) > INFO) return; // "silent" is no level
    const f = fields(request, reply);
    stream.write(
      `{"level":${INFO},"time":${Date.now()}${bindings},"reqId":${q(request.id)},"method":${q(f.method)},"url":${q(f.url)}` +
        `${f.ip === undefined ? '' : `,"ip":${q(f.ip)}`},"status":${f.status},"ms":${f.ms}${f.user === undefined ? '' : `,"user":${q(f.user)}`},"msg":"request"}\n`,
    );
  };
}
