import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../src/app.js';
import { resolveKeySet } from '../../src/auth/tokens/keys.js';
import { loadConfig } from '../../src/config.js';
import { createAccessLog, loggedUrl } from '../../src/http/access-log.js';
import { openStore } from '../../src/store/open.js';

function capture(level = 'info') {
  const lines: string[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

/** `ip: null` stands for a client that has gone: Fastify's request.ip is then undefined. */
const request = (url: string, user: { id: string } | null = null, ip: string | null = '192.0.2.1') =>
  ({ id: 'req-1', method: 'GET', url, ip: ip ?? undefined, user, log: null }) as unknown as FastifyRequest;
const reply = { statusCode: 200, elapsedTime: 1.234 } as unknown as FastifyReply;

describe('the access log line', () => {
  it('is the JSON line pino would write, with the request fields', () => {
    const { logger, lines } = capture();
    createAccessLog(logger)(request('/users/me', { id: 'u1' }), reply);
    logger.info({ reqId: 'req-1', method: 'GET', url: '/users/me', ip: '192.0.2.1', status: 200, ms: 1.2, user: 'u1' }, 'request');
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

  it('carries the client IP, through the template and through a logger without a stream alike', () => {
    const { logger, lines } = capture();
    createAccessLog(logger)(request('/', null, '2001:db8::7'), reply);
    assert.equal((JSON.parse(lines[0] as string) as Record<string, unknown>).ip, '2001:db8::7');

    const logged: Record<string, unknown>[] = [];
    const streamless = { level: 'info', info: (fields: Record<string, unknown>) => void logged.push(fields) };
    const viaInfo = { ...request('/', null, '198.51.100.9'), log: streamless } as unknown as FastifyRequest;
    createAccessLog(streamless as unknown as FastifyBaseLogger)(viaInfo, reply);
    assert.equal(logged[0]?.ip, '198.51.100.9');
  });

  it('leaves the IP out, still valid JSON, when the client has gone (no remote address)', () => {
    const { logger, lines } = capture();
    createAccessLog(logger)(request('/', null, null), reply);
    const line = JSON.parse(lines[0] as string) as Record<string, unknown>;
    assert.equal('ip' in line, false);
    assert.equal(line.status, 200);
  });

  it('logs the address X-Forwarded-For gives only when TRUST_PROXY trusts the proxy', async () => {
    const loggedIps = async (trustProxy: string) => {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'authqr-access-log-'));
      const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir, DATABASE_URL: 'sqlite::memory:', TRUST_PROXY: trustProxy });
      const store = await openStore(config.database);
      const keys = resolveKeySet(config, { info: () => {}, warn: () => {} });
      const { logger, lines } = capture();
      const { app } = await buildApp({ config, store, keys, logger });
      try {
        await app.inject({ method: 'GET', url: '/health/live', headers: { 'x-forwarded-for': '203.0.113.50' } });
      } finally {
        await app.close();
        await store.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
      return lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request').map((l) => l.ip);
    };
    assert.deepEqual(await loggedIps('true'), ['203.0.113.50']);
    assert.deepEqual(await loggedIps('false'), ['127.0.0.1'], 'an untrusted header is not believed');
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
