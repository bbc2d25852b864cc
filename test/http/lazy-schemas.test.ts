import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';

describe('route schemas compiled on first use', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('validate and serialize on the first request as they would have compiled at start-up', async () => {
    // A validation failure reports ajv's errors through the lazy wrapper: 422 with a detail.
    const bad = await t.app.inject({ method: 'POST', url: '/auth/register', payload: { username: 'ab', email: 'x', password: 1 } });
    assert.equal(bad.statusCode, 422);
    assert.ok(Array.isArray(bad.json().detail) && bad.json().detail.length > 0, bad.body);
    // The response schema still filters what goes out (fast-json-stringify drops undeclared fields).
    const root = await t.app.inject({ url: '/' });
    assert.deepEqual(Object.keys(root.json()).sort(), ['docs', 'message', 'version']);
  });

  it('every schema of every route compiles (what production would meet on a first request)', () => {
    const compiled = t.schemas.compileAll();
    assert.ok(compiled > 60, `compiled ${compiled} schemas`);
    assert.equal(t.schemas.compileAll(), 0, 'each compiles once');
  });
});
