import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createMetrics, poolStatsOf } from '../../src/metrics/metrics.js';
import { StoreUnavailable } from '../../src/store/store.js';
import { bearer, buildTestApp, login, signUp, signUpAdmin, type TestApp } from '../helpers/app.js';
import { freePort } from '../helpers/server-process.js';

const TOKEN = 'metrics-token-for-the-tests-0123456789';

/** The value of one sample line, e.g. `auth_logins_total{result="success"}`; undefined if absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GET /metrics', () => {
  it('is a 404 when metrics are not configured (never public by default)', async () => {
    const t = await buildTestApp();
    try {
      const res = await t.app.inject({ url: '/metrics' });
      assert.equal(res.statusCode, 404);
    } finally {
      await t.close();
    }
  });

  describe('with METRICS_TOKEN', () => {
    let t: TestApp;
    before(async () => {
      t = await buildTestApp({ METRICS_TOKEN: TOKEN });
    });
    after(async () => t.close());
    const scrape = async () => {
      const res = await t.app.inject({ url: '/metrics', headers: bearer(TOKEN) });
      assert.equal(res.statusCode, 200);
      return res.body;
    };

    it('refuses a request without a token, or with the wrong one, with 401', async () => {
      const none = await t.app.inject({ url: '/metrics' });
      assert.equal(none.statusCode, 401);
      assert.match(String(none.headers['www-authenticate']), /^Bearer/);
      const wrong = await t.app.inject({ url: '/metrics', headers: bearer(`${TOKEN}x`) });
      assert.equal(wrong.statusCode, 401);
      const basic = await t.app.inject({ url: '/metrics', headers: { authorization: `Basic ${TOKEN}` } });
      assert.equal(basic.statusCode, 401);
    });

    it('answers Prometheus text with process metrics', async () => {
      const res = await t.app.inject({ url: '/metrics', headers: bearer(TOKEN) });
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
      for (const name of ['nodejs_eventloop_lag_seconds', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']) {
        assert.match(res.body, new RegExp(`^${name} `, 'm'), name);
      }
    });

    it('counts requests by method, route pattern and status, never by raw URL', async () => {
      const admin = await signUpAdmin(t);
      const user = await signUp(t.app);
      for (let i = 0; i < 3; i += 1) {
        const res = await t.app.inject({ url: `/users/${user.id}`, headers: bearer(admin.token) });
        assert.equal(res.statusCode, 200);
      }
      await t.app.inject({ url: '/no/such/path' });
      const text = await scrape();
      assert.equal(sample(text, 'http_requests_total{method="GET",route="/users/:user_id",status="200"}'), 3);
      assert.equal(sample(text, 'http_request_duration_seconds_count{method="GET",route="/users/:user_id",status="200"}'), 3);
      assert.equal(sample(text, 'http_requests_total{method="GET",route="unmatched",status="404"}'), 1);
      assert.ok(!text.includes(user.id), 'no user id in any label');
      assert.ok(!text.includes('/no/such/path'), 'no raw URL in any label');
    });

    it('counts logins by result, and times password hashing', async () => {
      const before = await scrape();
      const user = await signUp(t.app); // one registration (hash) and one login (verify)
      const bad = await t.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: user.body.email, password: 'not-the-password' },
      });
      assert.equal(bad.statusCode, 401);
      const malformed = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'x' } });
      assert.equal(malformed.statusCode, 422);
      const text = await scrape();
      const delta = (series: string) => (sample(text, series) ?? 0) - (sample(before, series) ?? 0);
      assert.equal(delta('auth_logins_total{result="success"}'), 1);
      assert.equal(delta('auth_logins_total{result="failure"}'), 1, 'a malformed request is not a login attempt');
      assert.ok(delta('password_hash_duration_seconds_count{op="hash"}') >= 1);
      assert.ok(delta('password_hash_duration_seconds_count{op="verify"}') >= 2);
      assert.ok((sample(text, 'password_hash_duration_seconds_sum{op="hash"}') ?? 0) > 0);
    });

    it('counts requests that failed because the database was unavailable', async () => {
      const user = await signUp(t.app);
      const before = sample(await scrape(), 'db_errors_total{kind="unavailable"}');
      assert.equal(before, 0, 'the series exists from the start');
      const store = t.store as { findUserById: (id: string) => Promise<unknown> };
      const original = store.findUserById;
      store.findUserById = async () => {
        throw new StoreUnavailable();
      };
      try {
        const res = await t.app.inject({ url: '/users/me', headers: bearer(user.token) });
        assert.equal(res.statusCode, 503);
      } finally {
        store.findUserById = original;
      }
      assert.equal(sample(await scrape(), 'db_errors_total{kind="unavailable"}'), 1);
    });
  });

  it('refuses a METRICS_TOKEN shorter than 16 bytes', () => {
    assert.throws(() => loadConfig({ METRICS_TOKEN: 'short' }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /METRICS_TOKEN must be at least 16 bytes/);
      return true;
    });
  });
});

describe('METRICS_PORT: a separate metrics listener', () => {
  it('serves /metrics (and nothing else) over a real socket on 127.0.0.1, not on the service port', async () => {
    const port = await freePort();
    const t = await buildTestApp({ METRICS_PORT: String(port) });
    let closed = false;
    try {
      const user = await signUp(t.app);
      await login(t.app, user.body.email, user.body.password);
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      const text = await res.text();
      assert.ok((sample(text, 'auth_logins_total{result="success"}') ?? 0) >= 2);
      assert.equal((await fetch(`http://127.0.0.1:${port}/users`)).status, 404);
      assert.equal((await t.app.inject({ url: '/metrics' })).statusCode, 404, 'no /metrics on the service port');
      await t.close();
      closed = true;
      await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`), 'the listener closes with the app');
    } finally {
      if (!closed) await t.close();
    }
  });
});

describe('database pool gauges', () => {
  it('reports the pool of a store that offers poolStats(), read at scrape time', async () => {
    let waiting = 0;
    const store = { poolStats: () => ({ total: 4, idle: 1, waiting }) };
    const metrics = createMetrics({ poolStats: poolStatsOf(store), processMetrics: false });
    waiting = 2;
    const { body } = await metrics.render();
    assert.equal(sample(body, 'db_pool_connections{state="total"}'), 4);
    assert.equal(sample(body, 'db_pool_connections{state="idle"}'), 1);
    assert.equal(sample(body, 'db_pool_waiting_requests'), 2);
  });

  it('has no pool gauges for a store without a pool (SQLite, MongoDB)', async () => {
    const metrics = createMetrics({ poolStats: poolStatsOf({}), processMetrics: false });
    assert.doesNotMatch((await metrics.render()).body, /db_pool_/);
  });
});
