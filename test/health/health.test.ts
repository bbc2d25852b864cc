import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { resolveKeySet } from '../../src/auth/tokens/keys.js';
import type { HealthService } from '../../src/health/health-service.js';
import { loadConfig } from '../../src/config.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { bearer, buildTestApp, signUp, type TestApp } from '../helpers/app.js';

const SERVICE = 'User/Auth/QR Microservice';

/** Words that only an internal error would put in a body. */
const INTERNAL_TEXT = /destroyed|sqlite|postgres|kysely|ECONNREFUSED|stack|at .*\.(ts|js)|Error:/i;

describe('GET /', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it("answers the old service's greeting, version and docs link", async () => {
    const res = await t.app.inject({ url: '/' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { message: 'User/Auth/QR Microservice API', version: '1.0.0', docs: '/docs' });
  });
});

describe('health with the database up', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('GET /health/db answers 200 healthy and connected', async () => {
    const res = await t.app.inject({ url: '/health/db' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'healthy', database: 'connected', service: SERVICE });
  });

  it('GET /health/live answers 200', async () => {
    const res = await t.app.inject({ url: '/health/live' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
  });

  it('GET /health/ready answers 200 ready', async () => {
    const res = await t.app.inject({ url: '/health/ready' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'ready' });
  });

  it('needs no token', async () => {
    for (const url of ['/health/db', '/health/live', '/health/ready']) {
      const res = await t.app.inject({ url, headers: bearer('garbage') });
      assert.equal(res.statusCode, 200, `${url} ignores a bad Authorization header`);
    }
  });
});

// Defect 7 of the old service: with the database down, /health/db still said 200 (with the raw
// error text). The database is made really unavailable by closing the store the app uses.
describe('health with the database down', () => {
  let t: TestApp;
  let student: Awaited<ReturnType<typeof signUp>>;

  before(async () => {
    t = await buildTestApp();
    student = await signUp(t.app);
    await t.store.close();
  });
  after(() => t.close());

  it('GET /health/db answers 503 unhealthy and disconnected, without internal error text', async () => {
    const res = await t.app.inject({ url: '/health/db' });
    assert.equal(res.statusCode, 503);
    assert.deepEqual(res.json(), { status: 'unhealthy', database: 'disconnected', service: SERVICE });
    assert.doesNotMatch(res.body, INTERNAL_TEXT);
  });

  it('GET /health/ready answers 503', async () => {
    const res = await t.app.inject({ url: '/health/ready' });
    assert.equal(res.statusCode, 503);
    assert.deepEqual(res.json(), { status: 'database_unavailable' });
  });

  it('GET /health/live still answers 200: the process is alive, restarting it would not help', async () => {
    const res = await t.app.inject({ url: '/health/live' });
    assert.equal(res.statusCode, 200);
  });

  it('answers a request that needs the database with clean JSON and no internal text', async () => {
    const requests = [
      { method: 'POST' as const, url: '/auth/login', payload: { email: student.body.email, password: student.body.password } },
      { method: 'GET' as const, url: '/users/me', headers: bearer(student.token) },
    ];
    for (const request of requests) {
      const res = await t.app.inject(request);
      assert.ok(res.statusCode >= 400 && res.statusCode < 600, `${request.url}: ${res.statusCode}`);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      const body = res.json();
      assert.equal(typeof body.detail, 'string');
      assert.equal(typeof body.code, 'string');
      assert.doesNotMatch(res.body, INTERNAL_TEXT, request.url);
    }
  });

  it('answers a request that needs the database with 503 DATABASE_UNAVAILABLE and Retry-After', async () => {
    const requests = [
      { method: 'POST' as const, url: '/auth/login', payload: { email: student.body.email, password: student.body.password } },
      { method: 'GET' as const, url: '/users/me', headers: bearer(student.token) },
    ];
    for (const request of requests) {
      const res = await t.app.inject(request);
      assert.equal(res.statusCode, 503, `${request.url}: ${res.body}`);
      assert.equal(res.json().code, 'DATABASE_UNAVAILABLE');
      assert.ok(res.headers['retry-after'] !== undefined, `${request.url}: Retry-After`);
    }
  });
});

describe('GET /health/ready while shutting down', () => {
  let app: FastifyInstance;
  let health: HealthService;
  let store: Store;
  let dataDir: string;

  // buildApp itself, for the HealthService it returns (main.ts calls markShuttingDown on SIGTERM).
  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'authqr-health-'));
    const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir, DATABASE_URL: `sqlite:${path.join(dataDir, 'app.db')}` });
    store = await openStore(config.database);
    const keys = resolveKeySet(config, { info: () => {}, warn: () => {} });
    ({ app, health } = await buildApp({ config, store, keys, logger: false }));
    await app.ready();
  });
  after(async () => {
    await app.close();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('turns from 200 ready to 503 shutting_down after markShuttingDown()', async () => {
    const ready = await app.inject({ url: '/health/ready' });
    assert.equal(ready.statusCode, 200);
    assert.notEqual(ready.headers.connection, 'close');

    health.markShuttingDown();
    const res = await app.inject({ url: '/health/ready' });
    assert.equal(res.statusCode, 503);
    assert.deepEqual(res.json(), { status: 'shutting_down' });
  });

  it('keeps serving other requests while draining, each closing its connection', async () => {
    health.markShuttingDown();
    const live = await app.inject({ url: '/health/live' });
    assert.equal(live.statusCode, 200);
    assert.equal(live.headers.connection, 'close');
    const db = await app.inject({ url: '/health/db' });
    assert.equal(db.statusCode, 200, 'the database itself is still fine');
    assert.equal(db.headers.connection, 'close');
  });
});
