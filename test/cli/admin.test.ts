import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createPasswordHasher } from '../../src/auth/passwords.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite.js';
import { REPO_ROOT } from '../helpers/server-process.js';

describe('npm run admin (src/cli/admin.ts)', () => {
  let dir: string;
  let env: Record<string, string>;
  const run = (args: string[], input = '') =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/admin.ts', ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      input,
      encoding: 'utf8',
    });
  const withStore = async <T>(work: (store: ReturnType<typeof openSqliteStore>) => Promise<T>) => {
    const store = openSqliteStore(path.join(dir, 'app.db'));
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  };

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'authqr-cli-'));
    env = { DATA_DIR: dir, DATABASE_URL: `sqlite:${path.join(dir, 'app.db')}` };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates an admin, reading the password from standard input', async () => {
    const res = run(['create', '--email', 'Boss@Example.com', '--username', 'boss'], 'boss-password-1\n');
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /Created admin Boss@Example.com/);
    await withStore(async (store) => {
      const user = await store.findUserByEmail('boss@example.com');
      assert.equal(user?.role, 'admin');
      assert.equal(user?.username, 'boss');
      assert.deepEqual(await createPasswordHasher().verify(user?.passwordHash ?? '', 'boss-password-1'), {
        ok: true,
        needsRehash: false,
      });
    });
  });

  it('refuses a second user with that email, and a too short password', () => {
    const again = run(['create', '--email', 'boss@example.com', '--username', 'boss2', '--password', 'long-enough-1']);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /exists already/);
    const short = run(['create', '--email', 'x@example.com', '--username', 'xx_user', '--password', 'short']);
    assert.equal(short.status, 1);
    assert.match(short.stderr, /at least 8/);
  });

  it('promotes an existing user to admin', async () => {
    assert.equal(run(['create', '--email', 't@example.com', '--username', 'teach', '--role', 'teacher', '--password', 'teacher-pass-1']).status, 0);
    const res = run(['promote', '--email', 'T@example.com']);
    assert.equal(res.status, 0, res.stderr);
    await withStore(async (store) => assert.equal((await store.findUserByEmail('t@example.com'))?.role, 'admin'));
  });

  it('prints its usage for an unknown command', () => {
    const res = run(['frobnicate']);
    assert.equal(res.status, 2);
    assert.match(res.stderr, /Usage:/);
  });
});
