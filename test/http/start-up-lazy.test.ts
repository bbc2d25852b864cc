/**
 * What start-up must not load (issue 17: cold start and idle memory). This file runs in its own
 * process, so the module cache shows what building the app loaded.
 * - Swagger UI (/docs) is loaded on its first visit (src/http/openapi.ts): ~70 ms of a cold start.
 * - No Intl date formatter is made: the first one maps ~8 MB of ICU data into the process, which
 *   an idle service should not hold (badge-words.ts and account-views.ts make theirs on first use).
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import type { TestApp } from '../helpers/app.js';

// Counted from before the service's modules are imported (below, dynamically).
let dateFormatters = 0;
const RealDateTimeFormat = Intl.DateTimeFormat;
Intl.DateTimeFormat = new Proxy(RealDateTimeFormat, {
  construct(target, args: ConstructorParameters<typeof Intl.DateTimeFormat>) {
    dateFormatters += 1;
    return new target(...args);
  },
});
const { buildTestApp } = await import('../helpers/app.js');

const require = createRequire(import.meta.url);
const loaded = (pkg: string) => Object.keys(require.cache).some((file) => file.includes(`/node_modules/${pkg}/`));

describe('start-up loads only what it needs', () => {
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

  it('made no Intl date formatter while starting', () => {
    assert.equal(dateFormatters, 0, 'a module makes an Intl.DateTimeFormat at load time');
  });

  it('answers HEAD and an unknown file under /docs with the UI app’s status', async () => {
    const head = await t.app.inject({ method: 'HEAD', url: '/docs/static/swagger-ui.css' });
    assert.equal(head.statusCode, 200);
    assert.equal(head.body, '');
    const missing = await t.app.inject({ url: '/docs/static/no-such-file.js' });
    assert.equal(missing.statusCode, 404);
  });
});
