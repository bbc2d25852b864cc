import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/server-process.js';

/**
 * scripts/ensure-built.mjs on a stand-in project: its `npm run build` only records that it ran and
 * writes the outputs, so each case costs an npm start-up, not a real tsc and esbuild run.
 */
describe('scripts/ensure-built.mjs (what npm start and the CLIs run first)', () => {
  let dir: string;
  const builds = () => readFileSync(path.join(dir, 'builds.log'), 'utf8').split('\n').filter(Boolean).length;
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  };
  /** Polls for a condition the test waits on (a file, a line); 30 s at most. */
  const until = async (what: string, ready: () => boolean) => {
    const deadline = Date.now() + 30_000;
    while (!ready()) {
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const startEnsureBuilt = () => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'scripts/ensure-built.mjs')], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const status = new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { status, stderr: () => stderr };
  };
  const ensureBuilt = () =>
    spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts/ensure-built.mjs')], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
    });
  /** Runs it and tells whether it built. */
  const buildsNow = () => {
    const before = builds();
    const res = ensureBuilt();
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout, '', 'nothing on stdout: the build line goes to stderr');
    return { built: builds() > before, stderr: res.stderr };
  };

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'authqr-ensure-built-'));
    write('package.json', JSON.stringify({ name: 'stand-in', private: true, scripts: { build: 'node build.mjs' } }));
    write('package-lock.json', '{"lockfileVersion": 3}\n');
    write('tsconfig.json', '{}\n');
    write('tsconfig.build.json', '{}\n');
    write('scripts/bundle.mjs', '// the bundler\n');
    write('src/main.ts', 'export const version = 1;\n');
    write('src/cli/admin.ts', 'export {};\n');
    write('builds.log', '');
    write(
      'build.mjs',
      `import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
if (existsSync('fail-build')) { console.error('tsc: error'); process.exit(2); }
writeFileSync('build-running', '');
// hold-build: a slow build, that goes on once the test creates 'go'.
while (existsSync('hold-build') && !existsSync('go')) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
appendFileSync('builds.log', 'built\\n');
mkdirSync('dist/server', { recursive: true });
mkdirSync('dist/src/cli', { recursive: true });
for (const f of ['dist/server/main.mjs', 'dist/src/cli/admin.js', 'dist/src/cli/import.js', 'dist/src/cli/keys.js']) writeFileSync(f, '');
console.log('dist/server/main.mjs: 1 KiB');
`,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('builds a fresh clone (no dist/), its build output on stderr', () => {
    const { built, stderr } = buildsNow();
    assert.ok(built);
    assert.match(stderr, /Building dist\/: dist\/server\/main\.mjs is missing/);
    assert.match(stderr, /main\.mjs: 1 KiB/);
  });

  it('does not build again when nothing changed, nor when files were only touched', () => {
    assert.equal(buildsNow().built, false);
    const later = new Date(Date.now() + 60_000);
    utimesSync(path.join(dir, 'src/main.ts'), later, later);
    assert.equal(buildsNow().built, false);
  });

  it('builds when a source file changes, and says which', () => {
    write('src/main.ts', 'export const version = 2;\n');
    const { built, stderr } = buildsNow();
    assert.ok(built);
    assert.match(stderr, /src\/main\.ts changed since the last build/);
    assert.equal(buildsNow().built, false);
  });

  it('builds when a source file appears or goes', () => {
    write('src/users/new-capability.ts', 'export {};\n');
    assert.ok(buildsNow().built);
    rmSync(path.join(dir, 'src/users/new-capability.ts'));
    assert.ok(buildsNow().built);
  });

  it('builds when the lock file, a tsconfig, package.json or the bundler script changes', () => {
    for (const file of ['package-lock.json', 'tsconfig.build.json', 'tsconfig.json', 'package.json', 'scripts/bundle.mjs']) {
      appendFileSync(path.join(dir, file), file.endsWith('.mjs') ? '// changed\n' : '\n');
      const { built, stderr } = buildsNow();
      assert.ok(built, file);
      assert.match(stderr, new RegExp(`${file.replace('.', '\\.')} changed`));
    }
  });

  it('builds when an output is missing, even if the sources did not change', () => {
    rmSync(path.join(dir, 'dist/src/cli/keys.js'));
    const { built, stderr } = buildsNow();
    assert.ok(built);
    assert.match(stderr, /dist\/src\/cli\/keys\.js is missing/);
  });

  it('builds once when two commands start together: the second waits for the first', async () => {
    write('src/main.ts', 'export const version = 4;\n');
    const before = builds();
    write('hold-build', '');
    rmSync(path.join(dir, 'build-running'), { force: true });
    const first = startEnsureBuilt();
    await until('the first build to run', () => existsSync(path.join(dir, 'build-running')));
    const second = startEnsureBuilt();
    await until('the second to wait', () => second.stderr().includes('Waiting for the build that process'));
    write('go', '');
    assert.deepEqual([await first.status, await second.status], [0, 0], first.stderr() + second.stderr());
    assert.equal(builds(), before + 1);
    rmSync(path.join(dir, 'hold-build'));
    rmSync(path.join(dir, 'go'));
  });

  it('takes over a lock left by a build that died', () => {
    write('src/main.ts', 'export const version = 5;\n');
    const gone = spawnSync(process.execPath, ['-e', '0']).pid as number;
    write('dist/.build-lock/pid', String(gone));
    assert.ok(buildsNow().built);
    assert.equal(existsSync(path.join(dir, 'dist/.build-lock')), false, 'and releases it');
  });

  it('fails with the build, and tries again next time (a failed build is not recorded as done)', () => {
    write('src/main.ts', 'export const version = 3;\n');
    write('fail-build', '');
    const failed = ensureBuilt();
    assert.notEqual(failed.status, 0);
    assert.match(failed.stderr, /tsc: error/);
    rmSync(path.join(dir, 'fail-build'));
    assert.ok(buildsNow().built);
  });
});
