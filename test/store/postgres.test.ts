import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import pg, { DatabaseError } from 'pg';
import { openPostgresStore, translatePostgresError } from '../../src/store/postgres/open-postgres.js';
import { Conflict, StoreUnavailable } from '../../src/store/store.js';
import { newId } from '../../src/users/ids.js';
import { freePort } from '../helpers/server-process.js';
import { createTempPostgresDatabase } from '../helpers/postgres.js';
import { storeContract, withCleanup } from './contract.js';

const adminUrl = process.env.TEST_POSTGRES_URL;

/** Fails a test that would otherwise wait forever: a hang guard, not a speed threshold. */
const HANG_GUARD = { timeout: 15_000 };

if (adminUrl === undefined || adminUrl === '') {
  console.log('PostgreSQL: skipped (set TEST_POSTGRES_URL)');
  describe('Store contract: PostgreSQL', () => {
    it('runs against a real server', { skip: 'PostgreSQL: skipped (set TEST_POSTGRES_URL)' }, () => undefined);
  });
} else {
  storeContract('PostgreSQL', async () => {
    const database = await createTempPostgresDatabase(adminUrl);
    // The user cache on, as in production: every rule of the contract holds through it.
    const store = openPostgresStore({ url: database.url, poolSize: 10, statementTimeoutMs: 5000, userCache: true });
    try {
      await store.migrate();
    } catch (error) {
      await store.close();
      await database.drop();
      throw error;
    }
    return withCleanup(store, () => database.drop());
  });

  describe('PostgreSQL store on a live server that does not answer in time', () => {
    it('gives up on a statement stuck behind a lock with StoreUnavailable (statement_timeout)', HANG_GUARD, async () => {
      const database = await createTempPostgresDatabase(adminUrl);
      const store = openPostgresStore({ url: database.url, poolSize: 2, statementTimeoutMs: 300 });
      const locker = new pg.Client({ connectionString: database.url });
      try {
        await store.migrate();
        await locker.connect();
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
        const error: unknown = await store.findUserById(newId()).then(
          () => assert.fail('a read under an exclusive lock should not succeed'),
          (e: unknown) => e,
        );
        assert.ok(error instanceof StoreUnavailable, String(error));
        assert.equal((error.cause as DatabaseError).code, '57014');
        await locker.query('ROLLBACK');
        // The connection that timed out is healthy again: the pool keeps serving.
        assert.equal(await store.findUserById(newId()), null);
      } finally {
        await locker.end().catch(() => undefined);
        await store.close();
        await database.drop();
      }
    });
  });
}

function databaseError(code: string, constraint?: string): DatabaseError {
  const error = new DatabaseError('duplicate key value violates unique constraint', 100, 'error');
  error.code = code;
  error.constraint = constraint;
  return error;
}

function socketError(code: string, syscall = 'connect'): NodeJS.ErrnoException {
  return Object.assign(new Error(`${syscall} ${code} 127.0.0.1:5432`), { code, syscall });
}

describe('PostgreSQL error translation', () => {
  it('names the field of a unique violation from the constraint', () => {
    for (const [constraint, field] of [
      ['users_email_lower_key', 'email'],
      ['users_username_key', 'username'],
      ['users_pkey', 'id'],
      ['some_future_key', 'unknown'],
    ] as const) {
      const translated = translatePostgresError(databaseError('23505', constraint));
      assert.ok(translated instanceof Conflict);
      assert.equal(translated.field, field);
    }
  });

  it('turns connection failures, shutdowns and timeouts into StoreUnavailable', () => {
    const failures: unknown[] = [
      socketError('ECONNREFUSED'),
      socketError('ECONNRESET', 'read'),
      socketError('ETIMEDOUT'),
      socketError('ENOTFOUND', 'getaddrinfo'),
      socketError('ENOENT'),
      new AggregateError([socketError('ECONNREFUSED'), socketError('ECONNREFUSED')], ''),
      databaseError('57P01'),
      databaseError('57P03'),
      databaseError('57014'),
      databaseError('53300'),
      databaseError('08006'),
      new Error('Connection terminated unexpectedly'),
      new Error('Connection terminated due to connection timeout', { cause: new Error('Connection terminated') }),
      new Error('timeout exceeded when trying to connect'),
      new Error('Query read timeout'),
      new Error('Client has encountered a connection error and is not queryable'),
    ];
    for (const failure of failures) {
      const translated = translatePostgresError(failure);
      assert.ok(translated instanceof StoreUnavailable, String(failure));
      assert.equal(translated.cause, failure);
    }
  });

  it('leaves query bugs and other errors as they are', () => {
    for (const error of [
      databaseError('42P01'),
      databaseError('23502'),
      databaseError('28P01'),
      socketError('ENOENT', 'open'),
      new TypeError('x is not a function'),
    ]) {
      assert.equal(translatePostgresError(error), error);
    }
  });
});

describe('PostgreSQL store without a working server', () => {
  it('rejects every call with StoreUnavailable at once when nothing listens, without crashing', async () => {
    const port = await freePort();
    const store = openPostgresStore({
      url: `postgres://nobody:secret@127.0.0.1:${port}/none`,
      poolSize: 2,
      statementTimeoutMs: 5000,
    });
    try {
      const started = Date.now();
      await assert.rejects(store.findUserById(newId()), StoreUnavailable);
      await assert.rejects(store.countUsers(), StoreUnavailable);
      await assert.rejects(store.ping(), StoreUnavailable);
      // Refused connections fail at once; this bound only tells that from sitting out the 5 s
      // connection timeout.
      assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms`);
    } finally {
      await store.close();
    }
  });

  it('gives up with StoreUnavailable when the server accepts connections but never answers', HANG_GUARD, async () => {
    // A black hole: TCP connects, the startup message goes unanswered.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const store = openPostgresStore({
      url: `postgres://nobody:secret@127.0.0.1:${port}/none`,
      poolSize: 2,
      statementTimeoutMs: 500,
    });
    try {
      await assert.rejects(store.findUserById(newId()), StoreUnavailable);
      await assert.rejects(store.ping(), StoreUnavailable);
    } finally {
      await store.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
