/**
 * Swagger UI (/docs) is loaded on its first visit, not at start-up (src/http/openapi.ts): its
 * packages cost ~70 ms of every cold start. This file runs in its own process, so the module
 * cache shows whether building the app loaded them.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';

const require = createRequire(import.meta.url);
const loaded = (pkg: string) => Object.keys(require.cache).some((file) => file.includes(`/node_modules/${pkg}/`));

describe('Swagger UI loaded on first use', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('is not loaded by start-up, is by the first /docs, and then serves the same page', async () => {
    await t.app.ready();
    assert.equal(loaded('@fastify/swagger-ui'), false, 'start-up loaded @fastify/swagger-ui');
    assert.equal(loaded('@fastify/static'), false, 'start-up loaded @fastify/static');
    const first = await t.app.inject({ url: '/docs/' });
    assert.equal(first.statusCode, 200);
    assert.equal(loaded('@fastify/swagger-ui'), true);
    const again = await t.app.inject({ url: '/docs/' });
    assert.equal(again.body, first.body);
    assert.match(String(again.headers['content-security-policy']), /script-src 'self'/);
  });

  it('answers HEAD and an unknown file under /docs with the UI app’s status', async () => {
    const head = await t.app.inject({ method: 'HEAD', url: '/docs/static/swagger-ui.css' });
    assert.equal(head.statusCode, 200);
    assert.equal(head.body, '');
    const missing = await t.app.inject({ url: '/docs/static/no-such-file.js' });
    assert.equal(missing.statusCode, 404);
  });
});
