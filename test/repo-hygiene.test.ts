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

describe('dependencies are declared honestly', () => {
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    engines: { node: string };
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const installedMajor = (name: string) =>
    Number((JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version.split('.')[0]);

  it('asks for the Node.js that has every API the code uses (zlib.crc32 arrived in 20.15)', () => {
    const usesCrc32 = readFileSync(path.join(REPO_ROOT, 'src/qr-render/render-png.ts'), 'utf8').includes('crc32');
    assert.ok(usesCrc32);
    const [, major, minor] = /^>=(\d+)\.(\d+)/.exec(pkg.engines.node) ?? [];
    assert.ok(Number(major) > 20 || (Number(major) === 20 && Number(minor) >= 15), `engines.node is ${pkg.engines.node}`);
  });

  it('keeps tools for a terminal out of the production install (pino-pretty)', () => {
    assert.equal(pkg.dependencies['pino-pretty'], undefined);
    assert.ok(pkg.devDependencies['pino-pretty']);
  });

  // DefinitelyTyped's majors lag behind some packages' (no @types/better-sqlite3 12 exists), but
  // types AHEAD of their package describe an API it does not have (@types/nodemailer 8 against 7).
  it('pins nothing to an exact version, and no types are of a later major than their package', () => {
    for (const [name, range] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
      assert.match(range, /^[\^~]/, `${name}@${range}: an exact pin needs a reason written down; none is`);
      if (name.startsWith('@types/') && name !== '@types/node') {
        const described = name.slice('@types/'.length).replace(/^(.+)__(.+)$/, '@$1/$2');
        const ownMajor = existsSync(path.join(REPO_ROOT, 'node_modules', described, 'package.json')) ? installedMajor(described) : null;
        if (ownMajor !== null) assert.ok(installedMajor(name) <= ownMajor, `${name} ${installedMajor(name)}.x describes ${described} ${ownMajor}.x`);
      }
    }
  });
});
