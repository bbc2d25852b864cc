import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { pino } from 'pino';
import { createAccessLog, loggedUrl } from '../../src/http/access-log.js';

function capture(level = 'info') {
  const lines: string[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

const request = (url: string, user: { id: string } | null = null) =>
  ({ id: 'req-1', method: 'GET', url, user, log: null }) as unknown as FastifyRequest;
const reply = { statusCode: 200, elapsedTime: 1.234 } as unknown as FastifyReply;

describe('the access log line', () => {
  it('is the JSON line pino would write, with the request fields', () => {
    const { logger, lines } = capture();
    createAccessLog(logger)(request('/users/me', { id: 'u1' }), reply);
    logger.info({ reqId: 'req-1', method: 'GET', url: '/users/me', status: 200, ms: 1.2, user: 'u1' }, 'request');
    assert.equal(lines.length, 2);
    const [ours, pinos] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(lines[0]?.endsWith('}\n'));
    assert.deepEqual({ ...ours, time: 0 }, { ...pinos, time: 0 });
    assert.equal(typeof ours?.time, 'number');
  });

  it('leaves the user out when there is none, and escapes what it quotes', () => {
    const { logger, lines } = capture();
    createAccessLog(logger)(request('/a"b\\c\n'), reply);
    const line = JSON.parse(lines[0] as string) as Record<string, unknown>;
    assert.equal(line.url, '/a"b\\c\n');
    assert.equal('user' in line, false);
  });

  it('writes nothing below its level', () => {
    const { logger, lines } = capture('warn');
    createAccessLog(logger)(request('/'), reply);
    const silent = capture('silent');
    createAccessLog(silent.logger)(request('/'), reply);
    assert.equal(lines.length + silent.lines.length, 0);
  });

  it('masks secret-looking query parameters', () => {
    assert.equal(loggedUrl('/users?limit=5'), '/users?limit=5');
    assert.equal(loggedUrl('/verify?token=abc.def&next=/x'), '/verify?token=[Redacted]&next=/x');
    assert.equal(loggedUrl('/x?a=1&Password=hunter2&code=123456'), '/x?a=1&Password=[Redacted]&code=[Redacted]');
    assert.equal(
      loggedUrl('/x?mfa_token=1&api_key=2&reset_token=3&cursor=abc'),
      '/x?mfa_token=[Redacted]&api_key=[Redacted]&reset_token=[Redacted]&cursor=abc',
    );
  });
});
