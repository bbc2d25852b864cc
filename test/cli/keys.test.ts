import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { parseSigningKeys } from '../../src/auth/keys.js';
import { REPO_ROOT } from '../helpers/server-process.js';

describe('npm run keys -- generate (src/cli/keys.ts)', () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/keys.ts', ...args], { cwd: REPO_ROOT, encoding: 'utf8' });

  it('prints a JWT_SIGNING_KEYS value: one private Ed25519 JWK whose kid is its thumbprint', async () => {
    const res = run(['generate']);
    assert.equal(res.status, 0, res.stderr);
    const [jwk] = JSON.parse(res.stdout) as JWK[];
    assert.equal(jwk?.kty, 'OKP');
    assert.equal(jwk?.crv, 'Ed25519');
    assert.equal(typeof jwk?.d, 'string');
    assert.equal(jwk?.kid, await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: jwk?.x as string }));
    const [key] = parseSigningKeys(res.stdout);
    assert.equal(key?.kid, jwk?.kid);
    assert.notEqual(run(['generate']).stdout, res.stdout, 'a new key every time');
  });

  it('prints its usage otherwise', () => {
    const res = run([]);
    assert.equal(res.status, 2);
    assert.match(res.stderr, /Usage/);
  });
});
