import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createTempPostgresDatabase } from '../helpers/postgres.js';
import { type ServerProcess, startServer, waitHealthy } from '../helpers/server-process.js';

/**
 * Starts the server and returns its log messages up to the last start-up line (the token key),
 * then stops it. Read while it runs: the log goes out in batches, and a batch still being written
 * when the process exits may be cut short (logging/batched-destination.ts).
 */
async function startupLines(env: Record<string, string>): Promise<{ server: ServerProcess; messages: string[] }> {
  const server = await startServer(env);
  try {
    await waitHealthy(server);
    const deadline = Date.now() + 30_000;
    while (!server.stdout().includes('"msg":"Token signing:') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const lines = server.stdout().split('\n');
    const last = lines.findIndex((l) => l.includes('"msg":"Token signing:'));
    assert.ok(last >= 0, `no start-up summary in: ${server.stdout()}`);
    return { server, messages: lines.slice(0, last + 1).map((l) => (JSON.parse(l) as { msg: string }).msg) };
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
}

const line = (messages: string[], prefix: string) => messages.find((m) => m.startsWith(prefix));

describe('the start-up log says where everything is', () => {
  it('on a bare `npm start`: Swagger UI, the SQLite file, the outbox, no admin yet (and how to make one), the generated key', async () => {
    const { server, messages } = await startupLines({});
    assert.equal(line(messages, 'Swagger UI:'), `Swagger UI: ${server.url}/docs`);
    assert.equal(line(messages, 'Database:'), `Database: SQLite file ${path.join(server.dataDir, 'app.db')}`);
    assert.match(line(messages, 'Mail:') ?? '', /^Mail: development outbox at \/admin\/outbox/);
    assert.match(line(messages, 'No admin yet:') ?? '', /npm run admin -- create --email .* --username /);
    assert.match(line(messages, 'No admin yet:') ?? '', /ADMIN_EMAIL and ADMIN_PASSWORD/);
    assert.match(
      line(messages, 'Token signing:') ?? '',
      new RegExp(`^Token signing: Ed25519 key in ${path.join(server.dataDir, 'jwt-signing-keys.json')} .*; kid gen-\\S+ signs$`),
    );
  });

  it('in production, tells how to create the first admin without npm (the image has no build step)', async () => {
    const { messages } = await startupLines({ NODE_ENV: 'production', JWT_SECRET: randomBytes(48).toString('base64') });
    assert.match(line(messages, 'No admin yet:') ?? '', /`node dist\/src\/cli\/admin\.js create --email /);
  });

  it('names the SMTP host and counts the admins, and never shows the SMTP password', async () => {
    const { server, messages } = await startupLines({
      SMTP_URL: 'smtp://mailer:smtp-Secret-9@smtp.example.test:2525',
      ADMIN_EMAIL: 'first@example.com',
      ADMIN_PASSWORD: 'first-admin-password',
      JWT_SECRET: randomBytes(48).toString('base64'),
      JWT_ALG: 'HS256',
      QR_SIGNED: 'false',
    });
    assert.equal(line(messages, 'Mail:'), 'Mail: SMTP server smtp.example.test:2525');
    assert.equal(line(messages, 'Admins:'), 'Admins: 1');
    assert.equal(line(messages, 'No admin yet'), undefined);
    assert.equal(line(messages, 'Token signing:'), 'Token signing: HS256 secret from JWT_SECRET');
    const everything = server.stdout() + server.stderr();
    for (const secret of ['smtp-Secret-9', 'mailer:', 'first-admin-password', 'a-test-secret']) {
      assert.equal(everything.includes(secret), false, secret);
    }
  });

  it('keeps a PostgreSQL password out of a failed start-up too', async () => {
    // Port 1 on loopback: refused at once, so the start-up fails on the database.
    const server = await startServer({ DATABASE_URL: 'postgres://app:pg-Secret-77@127.0.0.1:1/appdb', DB_TIMEOUT_MS: '2000' });
    assert.notEqual(await server.exited, 0);
    assert.match(server.stderr(), /Failed to start/);
    assert.equal((server.stdout() + server.stderr()).includes('pg-Secret-77'), false);
  });

  it(
    'names the PostgreSQL host and database, never its password',
    { skip: process.env.TEST_POSTGRES_URL ? false : 'set TEST_POSTGRES_URL' },
    async () => {
      const temp = await createTempPostgresDatabase(process.env.TEST_POSTGRES_URL as string);
      try {
        const url = new URL(temp.url);
        // CI's server has a password; a trust-auth server ignores one, so this one is always there.
        if (url.password === '') url.password = 'pg-never-logged-42';
        const { server, messages } = await startupLines({ DATABASE_URL: url.toString() });
        assert.equal(line(messages, 'Database:'), `Database: PostgreSQL at ${url.host}, database ${url.pathname.slice(1)}`);
        assert.equal((server.stdout() + server.stderr()).includes(decodeURIComponent(url.password)), false);
      } finally {
        await temp.drop();
      }
    },
  );

  it('says which variable an invalid ADMIN_EMAIL came from', async () => {
    const server = await startServer({ ADMIN_EMAIL: 'not-an-email', ADMIN_PASSWORD: 'long-enough-password' });
    assert.equal(await server.exited, 1);
    assert.match(server.stderr(), /Failed to start: ADMIN_EMAIL: value is not a valid email address/);
  });
});
