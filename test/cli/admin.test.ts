import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createPasswordHasher } from '../../src/auth/passwords/passwords.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite.js';
import { bearer, buildTestApp, login } from '../helpers/app.js';
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
  const passwordOf = async (email: string, password: string) =>
    withStore(async (store) => (await createPasswordHasher().verify((await store.findUserByEmail(email))?.passwordHash ?? '', password)).ok);

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
    });
    assert.equal(await passwordOf('boss@example.com', 'boss-password-1'), true);
  });

  it('refuses a second user with that email, and a too short password', () => {
    const again = run(['create', '--email', 'boss@example.com', '--username', 'boss2', '--password', 'long-enough-1']);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /exists already/);
    const short = run(['create', '--email', 'x@example.com', '--username', 'xx_user', '--password', 'short']);
    assert.equal(short.status, 1);
    assert.match(short.stderr, /the password: Password must be at least 8/);
  });

  it('refuses an email the API would refuse, and creates nobody', async () => {
    const res = run(['create', '--email', 'not-an-email', '--username', 'nomail', '--password', 'long-enough-1']);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /--email: value is not a valid email address/);
    await withStore(async (store) => assert.equal(await store.findUserByUsername('nomail'), null));
  });

  it('promotes an existing user to admin', async () => {
    assert.equal(run(['create', '--email', 't@example.com', '--username', 'teach', '--role', 'teacher', '--password', 'teacher-pass-1']).status, 0);
    const res = run(['promote', '--email', 'T@example.com']);
    assert.equal(res.status, 0, res.stderr);
    await withStore(async (store) => assert.equal((await store.findUserByEmail('t@example.com'))?.role, 'admin'));
  });

  it('leaves audit events that GET /admin/audit shows, with the command line as the actor', async () => {
    const t = await buildTestApp({ DATABASE_URL: env.DATABASE_URL as string });
    try {
      const token = await login(t.app, 'boss@example.com', 'boss-password-1');
      const res = await t.app.inject({ url: '/admin/audit?limit=200', headers: bearer(token) });
      assert.equal(res.statusCode, 200);
      const events = res.json() as { type: string; user_id: string; actor_id: string | null; detail: Record<string, unknown> }[];
      const ids = await withStore(async (store) => ({
        boss: (await store.findUserByEmail('boss@example.com'))?.id,
        teacher: (await store.findUserByEmail('t@example.com'))?.id,
      }));
      const created = events.find((e) => e.type === 'user.created' && e.user_id === ids.boss);
      assert.deepEqual(
        { ...created?.detail, os_user: typeof created?.detail.os_user, host: typeof created?.detail.host },
        { role: 'admin', actor: 'cli', command: 'admin create', os_user: 'string', host: 'string' },
      );
      assert.equal(created?.actor_id, null, 'no account did it');
      const promoted = events.find((e) => e.type === 'user.role_changed' && e.user_id === ids.teacher);
      assert.deepEqual(
        { ...promoted?.detail, os_user: typeof promoted?.detail.os_user, host: typeof promoted?.detail.host },
        { from: 'teacher', to: 'admin', actor: 'cli', command: 'admin promote', os_user: 'string', host: 'string' },
      );
      assert.equal(events.filter((e) => e.type === 'user.created').length, 2, 'refused commands leave no event');
    } finally {
      await t.close();
    }
  });

  it('answers --help with its usage and exit status 0', () => {
    const res = run(['--help']);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /Usage:\n {2}npm run admin -- create/);
  });

  it('says what was wrong before the usage: unknown command, bad role, unknown option, missing value', () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /^Unknown command: frobnicate\n/],
      [[], /^Missing command: create, promote or clients\n/],
      [['create', '--email', 'r@example.com', '--username', 'rr_user', '--role', 'root'], /^--role must be one of student, teacher, admin \(got "root"\)\n/],
      [['create', '--email', 'r@example.com', '--usernme', 'rr_user'], /^Unknown option '--usernme'/],
      [['create', '--username', 'rr_user'], /^create needs --email\n/],
      [['create', '--email', 'r@example.com'], /^create needs --username\n/],
    ];
    for (const [args, problem] of cases) {
      const res = run(args);
      assert.equal(res.status, 2, args.join(' '));
      assert.match(res.stderr, problem, args.join(' '));
      assert.match(res.stderr, /\n\nUsage:/, args.join(' '));
    }
  });

  it(
    'does not echo the password on a terminal, and asks for it twice',
    { skip: spawnSync('script', ['--version']).status === 0 ? false : 'needs script(1) from util-linux for a pseudo-terminal' },
    async () => {
      const password = 'Tty-Secret-Pass-9';
      const command = [process.execPath, '--import', 'tsx', 'src/cli/admin.ts', 'create', '--email', 'tty@example.com', '--username', 'tty_user']
        .map((a) => `'${a}'`)
        .join(' ');
      // script(1) runs the command on a pseudo-terminal and copies what the terminal shows
      // (echo included) to its stdout; what we write to its stdin is "typed".
      const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH ?? '', ...env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let screen = '';
      child.stdout.on('data', (d: Buffer) => (screen += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      // Type only once the prompt is up: characters typed before the echo is off are echoed.
      const typeAfter = async (prompt: string, text: string) => {
        const deadline = Date.now() + 30_000;
        while (!screen.includes(prompt)) {
          assert.ok(Date.now() < deadline && child.exitCode === null, `no "${prompt}" prompt: ${screen}`);
          await new Promise((r) => setTimeout(r, 20));
        }
        child.stdin.write(text);
      };
      await typeAfter('Password: ', `${password}\r`);
      await typeAfter('Repeat the password: ', `${password}\r`);
      const code = await exited;
      assert.equal(code, 0, screen);
      assert.match(screen, /Created admin tty@example.com/);
      assert.equal(screen.includes(password), false, `the terminal showed the password: ${screen}`);
      assert.equal(screen.includes('*'.repeat(password.length)), false, 'nor its length');
      assert.equal(await passwordOf('tty@example.com', password), true);
    },
  );
});
