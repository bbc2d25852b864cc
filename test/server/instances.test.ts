/**
 * Many instances behind a load balancer: two real servers on one PostgreSQL database, sharing
 * only their configuration. What one does, the other sees: there is no state but the database
 * (and Redis, for shared rate limits).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateSigningJwk } from '../../src/auth/tokens/keys.js';
import { type InstanceGroup, startInstances } from '../helpers/instances.js';

const skip = process.env.TEST_POSTGRES_URL ? false : 'PostgreSQL: skipped (set TEST_POSTGRES_URL)';
if (skip) console.log(skip);

describe('two instances on one PostgreSQL database', { skip }, () => {
  let group: InstanceGroup;
  let a: string;
  let b: string;
  const json = (url: string, path: string, body?: unknown, token?: string) =>
    fetch(`${url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  before(async () => {
    // Every instance needs the same keys: configure them (a generated key is per data folder).
    const keys = JSON.stringify([await generateSigningJwk()]);
    group = await startInstances(2, { JWT_SIGNING_KEYS: keys, JWT_ALG: 'EdDSA' });
    [a, b] = group.instances.map((i) => i.url) as [string, string];
  });
  after(() => group?.stop());

  it('accepts on one instance a token issued by the other, and refreshes there', async () => {
    const creds = { email: 'multi@example.com', password: 'multi-pass-1' };
    assert.equal((await json(a, '/auth/register', { username: 'multi', ...creds })).status, 201);
    const pair = (await (await json(a, '/auth/login', creds)).json()) as { access_token: string; refresh_token: string };
    const me = await json(b, '/users/me', undefined, pair.access_token);
    assert.equal(me.status, 200);
    const refreshed = await json(b, '/auth/refresh', { refresh_token: pair.refresh_token });
    assert.equal(refreshed.status, 200);
    // The spent token is refused on the first instance too.
    assert.equal((await json(a, '/auth/refresh', { refresh_token: pair.refresh_token })).status, 401);
  });

  it('sees a logout on one instance from the other', async () => {
    const creds = { email: 'leaver@example.com', password: 'leaver-pass-1' };
    await json(a, '/auth/register', { username: 'leaver', ...creds });
    const pair = (await (await json(a, '/auth/login', creds)).json()) as { access_token: string; refresh_token: string };
    assert.equal((await json(a, '/auth/logout', {}, pair.access_token)).status, 204);
    assert.equal((await json(b, '/auth/refresh', { refresh_token: pair.refresh_token })).status, 401);

    const other = (await (await json(b, '/auth/login', creds)).json()) as { access_token: string };
    assert.equal((await json(a, '/users/me', undefined, other.access_token)).status, 200);
    assert.equal((await json(b, '/auth/logout-all', {}, other.access_token)).status, 204);
    assert.equal((await json(a, '/users/me', undefined, other.access_token)).status, 401, 'logout-all reaches every instance at once');
  });
  it('refuses on one instance, at once, a user disabled or demoted on the other (each keeps users in its cache)', async () => {
    const admin = { email: 'boss@example.com', password: 'boss-pass-12' };
    const deputyCreds = { email: 'deputy@example.com', password: 'deputy-pass-1' };
    const worker = { email: 'worker@example.com', password: 'worker-pass-1' };
    for (const who of [admin, deputyCreds, worker]) {
      assert.equal((await json(a, '/auth/register', { username: who.email.split('@')[0], ...who })).status, 201);
    }
    // Two admins, made in SQL (public registration makes students).
    const { default: pg } = await import('pg');
    const sql = new pg.Client({ connectionString: group.databaseUrl });
    await sql.connect();
    await sql.query(`update users set role = 'admin' where email in ('boss@example.com', 'deputy@example.com')`);
    await sql.end();
    const tokenOf = async (url: string, creds: { email: string; password: string }) =>
      ((await (await json(url, '/auth/login', creds)).json()) as { access_token: string }).access_token;
    const boss = await tokenOf(a, admin);
    const patch = (id: string, body: unknown) =>
      fetch(`${a}/users/${id}`, { method: 'PATCH', headers: { 'content-type': 'application/json', authorization: `Bearer ${boss}` }, body: JSON.stringify(body) });
    const idOf = async (token: string) => ((await (await json(b, '/users/me', undefined, token)).json()) as { id: string }).id;
    const workerId = await idOf(await tokenOf(b, worker));

    // Ten rounds: a fresh sign-in each (disabling ends the tokens), within the per-account login limit.
    for (let round = 0; round < 10; round++) {
      // Instance b reads the worker's row (and keeps it) on each of these requests.
      const token = await tokenOf(b, worker);
      for (let i = 0; i < 3; i++) assert.equal((await json(b, '/users/me', undefined, token)).status, 200);
      assert.equal((await patch(workerId, { disabled: true })).status, 200);
      assert.equal((await json(b, '/users/me', undefined, token)).status, 401, `round ${round}: disabled on a, refused on b at once`);
      assert.equal((await patch(workerId, { disabled: false })).status, 200);
    }

    // A demoted admin's token stops opening admin routes on the other instance at once.
    const deputy = await tokenOf(b, deputyCreds);
    const deputyId = await idOf(deputy);
    for (let i = 0; i < 3; i++) assert.equal((await json(b, '/users?limit=1', undefined, deputy)).status, 200);
    assert.equal((await patch(deputyId, { role: 'teacher' })).status, 200);
    assert.equal((await json(b, '/users?limit=1', undefined, deputy)).status, 401, 'the role change ended its tokens: refused on b at once');
  });

});

const redisSkip = skip || (process.env.TEST_REDIS_URL ? false : 'Redis: skipped (set TEST_REDIS_URL)');
if (!skip && redisSkip) console.log(redisSkip);

describe('two instances sharing rate limits through Redis', { skip: redisSkip }, () => {
  let group: InstanceGroup;

  before(async () => {
    const keys = JSON.stringify([await generateSigningJwk()]);
    group = await startInstances(2, {
      JWT_SIGNING_KEYS: keys,
      JWT_ALG: 'EdDSA',
      REDIS_URL: process.env.TEST_REDIS_URL as string,
      RATE_LIMIT_LOGIN_PER_ACCOUNT: '4',
    });
  });
  after(() => group?.stop());

  it('holds the per-account login limit across both instances', async () => {
    const [a, b] = group.instances.map((i) => i.url) as [string, string];
    const creds = { email: `shared-limit-${Date.now()}@example.com`, password: 'shared-pass-1' };
    const post = (url: string, path: string, body: unknown) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await post(a, '/auth/register', { username: `sl${Date.now()}`, ...creds })).status, 201);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await post(i % 2 === 0 ? a : b, '/auth/login', creds)).status);
    // Four logins in all, wherever they land; alone, each instance would have allowed four.
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
  });
});
