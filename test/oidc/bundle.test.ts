/**
 * oidc-provider must stay outside the server bundle: bundled, esbuild renamed one of its classes
 * and the built service failed at run time ("ttl is not a function") while every test, which runs
 * the sources, passed. Checked by hand with `npm run build && node dist/server/main.mjs` (discovery
 * answers); this keeps the lesson in the build script.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/server-process.js';

describe('the server bundle (scripts/bundle.mjs)', () => {
  it('leaves oidc-provider external, loaded from node_modules', () => {
    const script = readFileSync(path.join(REPO_ROOT, 'scripts/bundle.mjs'), 'utf8');
    const external = /const EXTERNAL = \[([\s\S]*?)\];/.exec(script)?.[1] ?? '';
    assert.match(external, /'oidc-provider'/);
  });
});
