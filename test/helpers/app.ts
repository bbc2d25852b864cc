/**
 * buildTestApp(): the whole service on a throw-away database, for app.inject() and real sockets.
 * SQLite in a temporary folder by default; PostgreSQL (a fresh database per app) when
 * TEST_HTTP_STORE=postgres and TEST_POSTGRES_URL are set, so CI runs every HTTP test on both.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import type { LazySchemas } from '../../src/http/lazy-schemas.js';
import { type KeySet, resolveKeySet } from '../../src/auth/tokens/keys.js';
import { type Config, loadConfig } from '../../src/config.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import type { UserService } from '../../src/users/user-service.js';

export interface TestApp {
  app: FastifyInstance;
  store: Store;
  users: UserService;
  /** Route schemas; compileAll() compiles those no request has used yet. */
  schemas: LazySchemas;
  config: Config;
  /** The token keys the app signs and verifies with (generated in dataDir unless env says otherwise). */
  keys: KeySet;
  dataDir: string;
  /** The web front's page routes. */
  pageRoutes: readonly { method: string; url: string }[];
  /** Moves the clock the login locks count in (see BuildOptions.clock) forward. */
  advance(ms: number): void;
  close(): Promise<void>;
}

/** Which database the HTTP suites run on: printed once so a CI log shows it. */
export function httpStoreKind(): 'sqlite' | 'postgres' {
  return process.env.TEST_HTTP_STORE === 'postgres' && process.env.TEST_POSTGRES_URL ? 'postgres' : 'sqlite';
}

export async function buildTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'authqr-test-'));
  let databaseUrl = `sqlite:${path.join(dataDir, 'test.db')}`;
  let dropDatabase = async () => {};
  if (httpStoreKind() === 'postgres') {
    const { createTempPostgresDatabase } = await import('./postgres.js');
    const temp = await createTempPostgresDatabase(process.env.TEST_POSTGRES_URL as string);
    databaseUrl = temp.url;
    dropDatabase = temp.drop;
  }
  const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir, DATABASE_URL: databaseUrl, ...env });
  const store = await openStore(config.database);
  const keys = resolveKeySet(config, { info: () => {}, warn: () => {} });
  let skew = 0;
  const clock = () => new Date(Date.now() + skew);
  const { app, users, schemas, pageRoutes } = await buildApp({ config, store, keys, logger: false, clock });
  await app.ready();
  return {
    app,
    store,
    users,
    schemas,
    config,
    keys,
    dataDir,
    pageRoutes,
    advance(ms) {
      skew += ms;
    },
    async close() {
      await app.close();
      await store.close();
      await dropDatabase();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

let counter = 0;
/** A unique, valid registration body. */
export function newUserBody(overrides: Record<string, unknown> = {}) {
  counter += 1;
  const tag = `${Date.now().toString(36)}${counter}${randomBytes(2).toString('hex')}`;
  return {
    username: `user_${tag}`,
    email: `user_${tag}@example.com`,
    password: `password-${tag}`,
    full_name: `User ${tag}`,
    ...overrides,
  };
}

export async function register(app: FastifyInstance, body: Record<string, unknown>, token?: string) {
  return app.inject({
    method: 'POST',
    url: '/auth/register',
    payload: body,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
}

export async function login(app: FastifyInstance, email: string, password: string): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
  return res.json().access_token as string;
}

/** Registers a student and logs in: `{id, token, body}`. */
export async function signUp(app: FastifyInstance, overrides: Record<string, unknown> = {}) {
  const body = newUserBody(overrides);
  const res = await register(app, body);
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`);
  const token = await login(app, body.email, body.password);
  return { id: res.json().id as string, token, body };
}

/** Creates an admin through the service (public registration cannot) and logs in. */
export async function signUpAdmin(t: TestApp) {
  const body = newUserBody();
  await t.users.ensureAdmin({ email: body.email, password: body.password, username: body.username });
  const token = await login(t.app, body.email, body.password);
  const me = await t.app.inject({ url: '/users/me', headers: { authorization: `Bearer ${token}` } });
  return { id: me.json().id as string, token, body };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
