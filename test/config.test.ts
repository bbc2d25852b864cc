import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GENERATED_SECRET_FILE, resolveSigningSecret } from '../src/auth/tokens/signing-secret.js';
import { ConfigError, loadConfig } from '../src/config.js';

let tmp: string;
before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'authqr-config-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** loadConfig's ConfigError, checked to name `variable` among its problems. */
function refuses(env: Record<string, string>, variable: string): ConfigError {
  let caught: unknown;
  try {
    loadConfig({ NODE_ENV: 'test', DATA_DIR: tmp, ...env });
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError for ${JSON.stringify(env)}, got ${String(caught)}`);
  assert.ok(
    caught.problems.some((p) => p.includes(variable)),
    `a problem names ${variable}: ${JSON.stringify(caught.problems)}`,
  );
  assert.ok(caught.message.includes(variable), 'the message names the variable too');
  return caught;
}

describe('loadConfig', () => {
  it('defaults to port 8000 on 0.0.0.0 and SQLite at <DATA_DIR>/app.db', () => {
    const config = loadConfig({ DATA_DIR: tmp });
    assert.equal(config.port, 8000);
    assert.equal(config.host, '0.0.0.0');
    assert.deepEqual(config.database, { kind: 'sqlite', file: path.join(tmp, 'app.db') });
    assert.equal(config.dataDir, tmp);
    assert.equal(config.nodeEnv, 'development');
  });

  it('resolves a relative DATA_DIR to an absolute path, ./data when unset', () => {
    assert.equal(loadConfig({ DATA_DIR: 'some/dir' }).dataDir, path.resolve('some/dir'));
    const config = loadConfig({});
    assert.equal(config.dataDir, path.resolve('data'));
    assert.deepEqual(config.database, { kind: 'sqlite', file: path.resolve('data', 'app.db') });
  });

  it('reads PORT and HOST', () => {
    const config = loadConfig({ DATA_DIR: tmp, PORT: '3000', HOST: '127.0.0.1' });
    assert.equal(config.port, 3000);
    assert.equal(config.host, '127.0.0.1');
  });

  it('parses every DATABASE_URL form to its kind', () => {
    const sqliteFile = path.join(tmp, 'x', 'db.sqlite');
    assert.deepEqual(loadConfig({ DATA_DIR: tmp, DATABASE_URL: `sqlite:${sqliteFile}` }).database, {
      kind: 'sqlite',
      file: sqliteFile,
    });
    assert.deepEqual(loadConfig({ DATA_DIR: tmp, DATABASE_URL: 'sqlite:./rel/app.db' }).database, {
      kind: 'sqlite',
      file: path.resolve('rel/app.db'),
    });
    assert.deepEqual(loadConfig({ DATA_DIR: tmp, DATABASE_URL: 'sqlite::memory:' }).database, {
      kind: 'sqlite',
      file: ':memory:',
    });
    for (const url of ['postgres://app:pw@db.example.com:5432/app', 'postgresql://app@localhost/app?sslmode=require']) {
      const db = loadConfig({ DATA_DIR: tmp, DATABASE_URL: url }).database;
      assert.equal(db.kind, 'postgres', url);
      assert.equal(db.kind === 'postgres' && db.url, url);
    }
    for (const url of ['mongodb://localhost:27017', 'mongodb+srv://<app>:<pw>@cluster0.example.mongodb.net/?retryWrites=true']) {
      const db = loadConfig({ DATA_DIR: tmp, DATABASE_URL: url }).database;
      assert.equal(db.kind, 'mongodb', url);
      assert.equal(db.kind === 'mongodb' && db.url, url);
    }
  });

  it("recognises the old service's MONGO_URI and DB_NAME", () => {
    const db = loadConfig({ DATA_DIR: tmp, MONGO_URI: 'mongodb+srv://<app>:<pw>@cluster0.example.mongodb.net', DB_NAME: 'school' })
      .database;
    assert.deepEqual(db, { kind: 'mongodb', url: 'mongodb+srv://<app>:<pw>@cluster0.example.mongodb.net', dbName: 'school' });
    const defaulted = loadConfig({ DATA_DIR: tmp, MONGO_URI: 'mongodb://localhost:27017' }).database;
    assert.equal(defaulted.kind, 'mongodb');
    assert.equal(defaulted.kind === 'mongodb' && defaulted.dbName, 'assignmentdb', "the old service's default database");
  });

  it('refuses a DATABASE_URL of an unknown scheme', () => {
    refuses({ DATABASE_URL: 'mysql://app@localhost/app' }, 'DATABASE_URL');
    refuses({ DATABASE_URL: 'sqlite:' }, 'DATABASE_URL');
  });

  it('refuses a PORT that is not a port number', () => {
    refuses({ PORT: 'abc' }, 'PORT');
    refuses({ PORT: '65536' }, 'PORT');
    refuses({ PORT: '80.5' }, 'PORT');
  });

  it('refuses PASSWORD_MIN_LENGTH=0', () => {
    refuses({ PASSWORD_MIN_LENGTH: '0' }, 'PASSWORD_MIN_LENGTH');
    assert.equal(loadConfig({ DATA_DIR: tmp, PASSWORD_MIN_LENGTH: '12' }).passwords.minLength, 12);
  });

  it('reports every problem at once', () => {
    const error = refuses({ PORT: 'abc', PASSWORD_MIN_LENGTH: '0' }, 'PORT');
    assert.ok(error.problems.some((p) => p.includes('PASSWORD_MIN_LENGTH')), JSON.stringify(error.problems));
  });

  it('refuses a JWT_SECRET shorter than 32 bytes, counting bytes rather than characters', () => {
    const random = randomBytes(24).toString('base64'); // 32 characters
    refuses({ JWT_SECRET: random.slice(1) }, 'JWT_SECRET');
    assert.equal(loadConfig({ DATA_DIR: tmp, JWT_SECRET: random }).jwt.secret, random);
    // Two bytes a character: 16 of them are 32 bytes (accepted if varied enough), 15 plus one ASCII byte 31.
    const accented = 'éèêëàâäîïôöùûüçñ';
    refuses({ JWT_SECRET: `${accented.slice(1)}a` }, 'must be at least 32 bytes (it has 31)');
    assert.equal(loadConfig({ DATA_DIR: tmp, JWT_SECRET: accented.repeat(3) }).jwt.secret, accented.repeat(3));
  });

  it('reads TRUST_PROXY as a hop count or proxy addresses, and refuses "true" in production', () => {
    const trust = (value: string, env: Record<string, string> = {}) =>
      loadConfig({ DATA_DIR: tmp, TRUST_PROXY: value, ...env }).trustProxy;
    assert.equal(trust('false'), false);
    assert.equal(trust('2'), 2);
    assert.deepEqual(trust('10.0.0.0/8, 192.168.1.5,loopback, ::1'), ['10.0.0.0/8', '192.168.1.5', 'loopback', '::1']);
    assert.equal(trust('true'), true, 'allowed outside production');
    const error = refuses({ NODE_ENV: 'production', JWT_SECRET: randomBytes(48).toString('base64'), TRUST_PROXY: 'true' }, 'TRUST_PROXY');
    assert.match(error.message, /Render, TRUST_PROXY=2/, 'says what to set instead');
    refuses({ TRUST_PROXY: '11' }, 'TRUST_PROXY');
    refuses({ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY');
    refuses({ TRUST_PROXY: 'proxy.example.com' }, 'TRUST_PROXY');
  });

  // The old service's repository shipped this value: migrating users paste it.
  it('refuses published placeholder and low-entropy secrets without echoing them', () => {
    for (const placeholder of [
      'your-secret-key-change-in-production',
      'YOUR_SECRET_KEY_CHANGE_IN_PRODUCTION',
      'my-super-secret-jwt-key-please-change-it-123',
      'x'.repeat(48),
      'abcdefghijklmnopqrstuvwxyz0123456789',
      'aaaabbbbccccddddeeeeffffgggghhhh',
    ]) {
      for (const env of [{}, { NODE_ENV: 'production' }] as Record<string, string>[]) {
        const error = refuses({ ...env, JWT_SECRET: placeholder }, 'JWT_SECRET');
        assert.ok(!error.message.includes(placeholder), 'the value is never echoed');
      }
    }
    const hex = randomBytes(32).toString('hex');
    assert.equal(loadConfig({ DATA_DIR: tmp, NODE_ENV: 'production', JWT_SECRET: hex }).jwt.secret, hex);
  });

  // Defect 2 of the old service: a missing JWT_SECRET fell back to a public placeholder.
  it('refuses to start in production without a signing key, saying to set JWT_SECRET', () => {
    refuses({ NODE_ENV: 'production' }, 'JWT_SECRET');
    refuses({ NODE_ENV: 'production', JWT_ALG: 'HS256' }, 'JWT_SECRET');
    const secret = randomBytes(48).toString('base64');
    const config = loadConfig({ DATA_DIR: tmp, NODE_ENV: 'production', JWT_SECRET: secret });
    assert.equal(config.nodeEnv, 'production');
    assert.equal(config.jwt.secret, secret);
    assert.equal(config.jwt.alg, 'HS256');
  });

  it('refuses ADMIN_EMAIL without ADMIN_PASSWORD, and the reverse', () => {
    refuses({ ADMIN_EMAIL: 'root@example.com' }, 'ADMIN_PASSWORD');
    refuses({ ADMIN_PASSWORD: 'a long admin password' }, 'ADMIN_EMAIL');
    const config = loadConfig({ DATA_DIR: tmp, ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'a long admin password' });
    assert.deepEqual(config.admin, { email: 'root@example.com', password: 'a long admin password', username: 'admin' });
  });

  it('freezes the config, nested objects included', () => {
    const config = loadConfig({ DATA_DIR: tmp });
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.database));
    assert.ok(Object.isFrozen(config.jwt));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
    assert.throws(() => {
      (config.jwt as { secret: string | null }).secret = 'forged';
    }, TypeError);
    assert.equal(config.port, 8000);
  });
});

describe('resolveSigningSecret', () => {
  const logger = () => {
    const lines: { level: 'info' | 'warn'; message: string }[] = [];
    return {
      lines,
      info: (message: string) => lines.push({ level: 'info', message }),
      warn: (message: string) => lines.push({ level: 'warn', message }),
    };
  };
  const freshDir = (name: string) => path.join(mkdtempSync(path.join(tmp, 'secret-')), name);

  it('without JWT_SECRET generates a secret file in DATA_DIR with mode 0600, and logs it', () => {
    const dataDir = freshDir('not-yet-created');
    const log = logger();
    const secret = resolveSigningSecret(loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir }), log);
    const file = path.join(dataDir, GENERATED_SECRET_FILE);
    assert.ok(existsSync(file));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(secret.length >= 32, `a secret of ${secret.length} bytes`);
    assert.equal(readFileSync(file, 'utf8').trim(), secret.toString('utf8'));
    assert.ok(
      log.lines.some((l) => l.message.includes(file)),
      `the log names the generated file: ${JSON.stringify(log.lines)}`,
    );
  });

  it('returns the same secret on the next start without regenerating it', () => {
    const dataDir = freshDir('data');
    const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir });
    const first = resolveSigningSecret(config, logger());
    const file = path.join(dataDir, GENERATED_SECRET_FILE);
    const written = readFileSync(file, 'utf8');
    const log = logger();
    const second = resolveSigningSecret(config, log);
    assert.ok(second.equals(first));
    assert.equal(readFileSync(file, 'utf8'), written, 'the file is untouched');
    assert.ok(!log.lines.some((l) => /generat/i.test(l.message)), 'nothing generated the second time');
  });

  it('makes a world-readable secret file private (0600) and warns', () => {
    const dataDir = freshDir('data');
    const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir });
    resolveSigningSecret(config, logger());
    const file = path.join(dataDir, GENERATED_SECRET_FILE);
    const existing = readFileSync(file, 'utf8').trim();
    chmodSync(file, 0o644);
    const log = logger();
    const secret = resolveSigningSecret(config, log);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(secret.toString('utf8'), existing, 'the existing secret is kept');
    assert.ok(log.lines.some((l) => l.level === 'warn'), JSON.stringify(log.lines));
  });

  it('never hands out a secret shorter than 32 bytes from a truncated file', () => {
    const dataDir = freshDir('data');
    const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir });
    resolveSigningSecret(config, logger());
    const file = path.join(dataDir, GENERATED_SECRET_FILE);
    // An empty or cut-short file (a crash or a full disk mid-write) must not become a weak key.
    for (const content of ['', 'short\n']) {
      writeFileSync(file, content);
      let secret: Buffer | null = null;
      try {
        secret = resolveSigningSecret(config, logger());
      } catch (error) {
        assert.ok(error instanceof Error, 'refusing to start is acceptable');
      }
      if (secret !== null) assert.ok(secret.length >= 32, `got a ${secret.length}-byte secret from ${JSON.stringify(content)}`);
    }
  });

  it('with JWT_SECRET set returns exactly its bytes and writes no file', () => {
    const dataDir = freshDir('data');
    const given = `${randomBytes(24).toString('base64')}é漢`;
    const secret = resolveSigningSecret(loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir, JWT_SECRET: given }), logger());
    assert.ok(secret.equals(Buffer.from(given, 'utf8')));
    assert.ok(!existsSync(path.join(dataDir, GENERATED_SECRET_FILE)));
    assert.ok(!existsSync(dataDir), 'DATA_DIR is not even created');
  });
});

describe('the OpenID Connect issuer', () => {
  const load = (env: Record<string, string>) => loadConfig({ NODE_ENV: 'test', DATA_DIR: tmp, ...env });

  it('is off without PUBLIC_URL or OIDC_ISSUER, and PUBLIC_URL + /oidc by default', () => {
    assert.equal(load({}).oidc, null);
    assert.equal(load({ PUBLIC_URL: 'https://auth.example.com/' }).oidc?.issuer, 'https://auth.example.com/oidc');
  });

  it('keeps the path of a PUBLIC_URL served under a prefix (a proxy strips /app): https://host/app/oidc', () => {
    assert.equal(load({ PUBLIC_URL: 'https://auth.example.com/app/' }).oidc?.issuer, 'https://auth.example.com/app/oidc');
    assert.equal(load({ OIDC_ISSUER: 'https://auth.example.com/app/oidc' }).oidc?.issuer, 'https://auth.example.com/app/oidc');
  });

  it('refuses an OIDC_ISSUER that does not end in /oidc, or is not http(s)', () => {
    refuses({ OIDC_ISSUER: 'https://auth.example.com/sso' }, 'OIDC_ISSUER');
    refuses({ OIDC_ISSUER: 'ftp://auth.example.com/oidc' }, 'OIDC_ISSUER');
  });
});
