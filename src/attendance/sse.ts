/**
 * Server-sent events on a raw response: the access check runs first (its errors answer through
 * the one error handler), then the response is taken over and kept open with a comment every
 * 15 s, so proxies do not close an idle live list. Streams end when the service shuts down.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { StreamEvent } from './live-stream.js';

const HEARTBEAT_MS = 15_000;

export interface EventStreams {
  /**
   * Serves a stream: `start(send)` opens its source and returns its close; it may throw (a 404)
   * before anything is sent.
   */
  serve(request: FastifyRequest, reply: FastifyReply, start: (send: (event: StreamEvent) => void) => Promise<() => void>): Promise<void>;
  /** Ends every open stream (before the server closes: they would hold it open). */
  endAll(): void;
  /** Streams open now. */
  readonly size: number;
}

export function createEventStreams(): EventStreams {
  const open = new Set<() => void>();
  return {
    serve: (request, reply, start) => serveEvents(open, request, reply, start),
    endAll() {
      for (const end of [...open]) end();
    },
    get size() {
      return open.size;
    },
  };
}

async function serveEvents(
  open: Set<() => void>,
  request: FastifyRequest,
  reply: FastifyReply,
  start: (send: (event: StreamEvent) => void) => Promise<() => void>,
): Promise<void> {
  const early: StreamEvent[] = [];
  let write: (event: StreamEvent) => void = (event) => early.push(event);
  const close = await start((event) => write(event));
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
    'x-content-type-options': 'nosniff',
    'x-request-id': request.id,
  });
  write = (event) => {
    raw.write(`event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`);
    if (event.event === 'ended') end();
  };
  const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
  let ended = false;
  function end() {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    open.delete(end);
    close();
    raw.end();
  }
  open.add(end);
  raw.on('close', end);
  raw.write('retry: 2000\n\n');
  for (const event of early.splice(0)) write(event);
}
