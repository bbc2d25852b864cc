/**
 * Defect 11 of the old service: its database password and JWT secret were committed. These
 * tests fail if a secret, a key, local data or an .env file enters the repository.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from './helpers/server-process.js';

const isGitCheckout = existsSync(path.join(REPO_ROOT, '.git'));

function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: REPO_ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
}

describe('the repository holds no secrets (defect 11)', { skip: isGitCheckout ? false : 'not a git checkout' }, () => {
  it('tracks no .env, key, certificate or database file', () => {
    const bad = trackedFiles().filter((f) =>
      /(^|\/)\.env$|\.(pem|key|p12|pfx|db|sqlite|db-wal|db-shm)$|(^|\/)jwt-secret$|^data\//.test(f),
    );
    assert.deepEqual(bad, []);
  });

  it('tracks no private key and no connection string with a password', () => {
    const offenders: string[] = [];
    const privateKey = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
    // user:password@ in a database URL, unless the password is an obvious placeholder.
    const credentialUrl = /(mongodb(\+srv)?|postgres(ql)?|redis):\/\/[^:/\s"'`]+:(?!password@|PASSWORD@|\$|<)[^@\s"'`]+@/;
    for (const file of trackedFiles()) {
      if (file.startsWith('test/')) continue; // tests build throw-away URLs for local servers
      const full = path.join(REPO_ROOT, file);
      if (!existsSync(full)) continue;
      const text = readFileSync(full, 'utf8');
      if (privateKey.test(text) || credentialUrl.test(text)) offenders.push(file);
    }
    assert.deepEqual(offenders, []);
  });

  it('ignores .env and the data folder, and documents every variable in .env.example with no value for secrets', () => {
    const ignore = readFileSync(path.join(REPO_ROOT, '.gitignore'), 'utf8').split('\n');
    assert.ok(ignore.includes('.env'));
    assert.ok(ignore.includes('data/'));
    const example = readFileSync(path.join(REPO_ROOT, '.env.example'), 'utf8');
    for (const secret of ['JWT_SECRET', 'ADMIN_PASSWORD']) {
      assert.match(example, new RegExp(`^${secret}=$`, 'm'), `${secret} is documented and left empty`);
    }
  });

  it('documents in .env.example every variable that src/config.ts reads', () => {
    const source = readFileSync(path.join(REPO_ROOT, 'src/config.ts'), 'utf8');
    const read = new Set([...source.matchAll(/\b(?:get|int|bool|oneOf)\('([A-Z_]+)'/g)].map((m) => m[1] as string));
    read.add('ADMIN_PASSWORD');
    const example = readFileSync(path.join(REPO_ROOT, '.env.example'), 'utf8');
    const missing = [...read].filter((name) => !new RegExp(`^#? ?${name}=`, 'm').test(example));
    assert.deepEqual(missing, []);
  });
});
