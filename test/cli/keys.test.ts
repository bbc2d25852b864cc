import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { parseSigningKeys } from '../../src/auth/tokens/keys.js';
import { REPO_ROOT, startServer, waitHealthy } from '../helpers/server-process.js';

describe('npm run keys -- generate (src/cli/keys.ts)', () => {
  let dir: string;
  const run = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/keys.ts', ...args], { cwd: REPO_ROOT, encoding: 'utf8' });

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'authqr-keys-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints a JWT_SIGNING_KEYS value, and only that, on stdout: one private Ed25519 JWK whose kid is its thumbprint', async () => {
    const res = run(['generate']);
    assert.equal(res.status, 0, res.stderr);
    const [jwk] = JSON.parse(res.stdout) as JWK[];
    assert.equal(jwk?.kty, 'OKP');
    assert.equal(jwk?.crv, 'Ed25519');
    assert.equal(typeof jwk?.d, 'string');
    assert.equal(jwk?.kid, await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: jwk?.x as string }));
    const [key] = parseSigningKeys(res.stdout);
    assert.equal(key?.kid, jwk?.kid);
    assert.match(res.stderr, /Keep it secret/);
    assert.notEqual(run(['generate']).stdout, res.stdout, 'a new key every time');
  });

  it('writes the key to --out with mode 0600, and never over an existing file', () => {
    const file = path.join(dir, 'out-keys.json');
    const res = run(['generate', '--out', file]);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout, '');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const written = readFileSync(file, 'utf8');
    assert.equal(parseSigningKeys(written).length, 1);
    assert.match(res.stderr, new RegExp(`JWT_SIGNING_KEYS_FILE=${file}`));

    const again = run(['generate', '--out', file]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /exists already/);
    assert.equal(readFileSync(file, 'utf8'), written, 'the key in use is kept');
  });

  it('answers --help with its usage, and says what was wrong otherwise', () => {
    const help = run(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage:/);
    const none = run([]);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /Missing command: generate\n[\s\S]*Usage:/);
    const unknown = run(['rotate']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /Unknown command: rotate/);
    const badOption = run(['generate', '--bits', '4096']);
    assert.equal(badOption.status, 2);
    assert.match(badOption.stderr, /--bits/);
  });
});

describe('a key file made as the README says works; a bad one is refused with a clear start-up error', () => {
  let dir: string;
  /** A shell command typed in the repository, with npm's own variables (e.g. `npm test --silent`) left out. */
  const shell = (command: string, file: string) =>
    spawnSync('sh', ['-c', command, 'sh', file], {
      cwd: REPO_ROOT,
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_'))),
      encoding: 'utf8',
    });
  /** Starts the server on a key file; resolves with whether it served, and all it printed. */
  const serveWith = async (file: string) => {
    const server = await startServer({ JWT_SIGNING_KEYS_FILE: file });
    try {
      await waitHealthy(server);
      const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
      return { served: true, kids: jwks.keys.map((k) => k.kid), output: server.stdout() + server.stderr() };
    } catch {
      await server.exited;
      return { served: false, kids: [], output: server.stdout() + server.stderr() };
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGTERM');
      await server.exited;
    }
  };

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'authqr-keyfile-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('`npm run --silent keys -- generate > keys.json` writes a file the server accepts as JWT_SIGNING_KEYS_FILE', async () => {
    const file = path.join(dir, 'keys.json');
    const res = shell('npm run --silent keys -- generate > "$1"', file);
    assert.equal(res.status, 0, res.stderr);
    const [jwk] = JSON.parse(readFileSync(file, 'utf8')) as JWK[];
    const served = await serveWith(file);
    assert.ok(served.served, served.output);
    assert.deepEqual(served.kids, [jwk?.kid]);
  });

  it('`npm run keys -- generate --out keys.json` does too, whatever npm prints', async () => {
    const file = path.join(dir, 'keys-out.json');
    const res = shell('npm run keys -- generate --out "$1"', file);
    assert.equal(res.status, 0, res.stderr);
    const [jwk] = JSON.parse(readFileSync(file, 'utf8')) as JWK[];
    assert.deepEqual(parseSigningKeys(readFileSync(file, 'utf8')).map((k) => k.kid), [jwk?.kid]);
  });

  it('refuses the file `npm run keys -- generate > file` (no --silent) writes, saying why, naming the variable, showing no key', async () => {
    const file = path.join(dir, 'with-banner.json');
    const res = shell('npm run keys -- generate > "$1"', file);
    assert.equal(res.status, 0, res.stderr);
    const text = readFileSync(file, 'utf8');
    const privatePart = /"d":"([^"]+)"/.exec(text)?.[1] as string;
    assert.ok(privatePart, `npm printed its banner and then the key: ${text.slice(0, 80)}`);

    const served = await serveWith(file);
    assert.equal(served.served, false);
    assert.match(served.output, /Failed to start: .*JWT_SIGNING_KEYS_FILE.*not valid JSON/);
    assert.match(served.output, /npm run --silent keys -- generate > FILE/);
    assert.equal(served.output.includes(privatePart), false, 'the private key is never printed');
  });

  it('refuses a key whose private part is broken, without printing it', async () => {
    const [jwk] = JSON.parse(run(['generate']).stdout) as JWK[];
    const broken = `${String(jwk?.d).slice(0, 20)}BROKEN`;
    const file = path.join(dir, 'broken.json');
    writeFileSync(file, JSON.stringify([{ ...jwk, d: broken }]));
    const served = await serveWith(file);
    assert.equal(served.served, false);
    assert.match(served.output, /JWT_SIGNING_KEYS_FILE.*: key 0 \(kid \S+\) is not a valid Ed25519 private key/);
    assert.equal(served.output.includes(broken), false);
  });

  it('names the variable and the file in that error', async () => {
    const file = path.join(dir, 'not-json.json');
    writeFileSync(file, 'not json');
    const served = await serveWith(file);
    assert.equal(served.served, false);
    assert.ok(served.output.includes(`JWT_SIGNING_KEYS_FILE ${file}`), served.output);
  });

  const run = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/keys.ts', ...args], { cwd: REPO_ROOT, encoding: 'utf8' });
});
