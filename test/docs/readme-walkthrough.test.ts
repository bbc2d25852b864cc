/**
 * The README's walkthrough, run as written (scripts/readme-walkthrough.mjs): its start line starts
 * the built server, its ```sh runnable blocks run in order with `bash -euo pipefail`, and every
 * command must succeed. A README that drifts from the service fails here.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/server-process.js';

const missing = ['bash', 'curl'].filter((tool) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0);

describe('the README walkthrough', { skip: missing.length > 0 ? `needs ${missing.join(' and ')}` : false }, () => {
  it('runs top to bottom against a fresh server started as the README says', { timeout: 180_000 }, async () => {
    const child = spawn(process.execPath, ['scripts/readme-walkthrough.mjs'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    assert.equal(code, 0, `the walkthrough failed:\n${output}`);
    assert.match(output, /blocks passed/);
  });

  it('prints the script it runs: the helpers first, no placeholder a shell would mistake for a redirection', () => {
    const printed = spawnSync(process.execPath, ['scripts/readme-walkthrough.mjs', '--print'], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(printed.status, 0, printed.stderr);
    assert.match(printed.stdout, /^api\(\) \{ curl -sS --fail-with-body/m);
    assert.doesNotMatch(printed.stdout, /<[a-z_ ]+>/i);
  });
});
