/**
 * `npm run admin -- clients add|list|remove` and `npm run keys -- generate --rsa`: OpenID Connect
 * clients from a script, under the same rules as the admin API, and the RSA key Moodle needs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseRsaKeys } from '../../src/oidc/oidc-provider.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite.js';
import { REPO_ROOT } from '../helpers/server-process.js';

describe('npm run admin -- clients', () => {
  let dir: string;
  let env: Record<string, string>;
  const run = (script: string, args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'authqr-cli-clients-'));
    env = { DATA_DIR: dir, DATABASE_URL: `sqlite:${path.join(dir, 'app.db')}`, PUBLIC_URL: 'https://auth.school.example' };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('adds a client, printing its secret once, stores only the hash, lists and removes it (audited)', async () => {
    const added = run('src/cli/admin.ts', ['clients', 'add', '--name', 'Nextcloud', '--redirect-uri', 'https://cloud.school.example/apps/user_oidc/code']);
    assert.equal(added.status, 0, added.stderr);
    const id = /client_id=(\S+)/.exec(added.stdout)?.[1];
    const secret = /client_secret=(\S+)/.exec(added.stdout)?.[1];
    assert.ok(id !== undefined && secret !== undefined, added.stdout);
    const listed = run('src/cli/admin.ts', ['clients', 'list']);
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${id}\\tNextcloud\\tconfidential`));
    assert.ok(!listed.stdout.includes(secret));
    const store = openSqliteStore(path.join(dir, 'app.db'));
    try {
      const record = await store.oidc.find('Client', id, new Date());
      assert.ok(record !== null && !record.payload.includes(secret));
      const events = await store.audit.list({ limit: 5, type: 'oidc.client_created' });
      assert.match(String(events[0]?.detail), /"actor":"cli"/);
    } finally {
      await store.close();
    }
    assert.equal(run('src/cli/admin.ts', ['clients', 'remove', id]).status, 0);
    assert.equal(run('src/cli/admin.ts', ['clients', 'remove', id]).status, 1);
  });

  it('refuses what the API refuses, and explains its usage', () => {
    const noUri = run('src/cli/admin.ts', ['clients', 'add', '--name', 'SPA', '--public']);
    assert.equal(noUri.status, 1);
    assert.match(noUri.stderr, /redirect URI/);
    const rs = run('src/cli/admin.ts', ['clients', 'add', '--name', 'Moodle', '--redirect-uri', 'https://m.example/auth/oidc/', '--rs256']);
    assert.equal(rs.status, 1);
    assert.match(rs.stderr, /OIDC_RSA_KEYS_FILE/);
    assert.equal(run('src/cli/admin.ts', ['clients', 'add']).status, 2);
    assert.equal(run('src/cli/admin.ts', ['clients', 'frobnicate']).status, 2);
  });

  it('generates an RSA key for OIDC_RSA_KEYS_FILE, with which RS256 clients can be added', () => {
    const file = path.join(dir, 'rsa.json');
    const gen = run('src/cli/keys.ts', ['generate', '--rsa', '--out', file]);
    assert.equal(gen.status, 0, gen.stderr);
    assert.match(gen.stderr, /OIDC_RSA_KEYS_FILE/);
    const [key] = parseRsaKeys(readFileSync(file, 'utf8'));
    assert.equal(key?.kty, 'RSA');
    assert.equal(key?.alg, 'RS256');
    env.OIDC_RSA_KEYS_FILE = file;
    const rs = run('src/cli/admin.ts', ['clients', 'add', '--name', 'Moodle', '--redirect-uri', 'https://m.example/auth/oidc/', '--rs256']);
    assert.equal(rs.status, 0, rs.stderr);
  });
});
