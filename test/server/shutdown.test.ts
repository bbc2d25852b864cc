import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTestApp } from '../helpers/app.js';
import { startServer, waitHealthy } from '../helpers/server-process.js';

describe('shutdown behind a load balancer', () => {
  it('answers /health/ready 503 from SIGTERM on, keeps serving for SHUTDOWN_DELAY_MS, then exits 0', async () => {
    const server = await startServer({ SHUTDOWN_DELAY_MS: '5000' });
    try {
      await waitHealthy(server);
      assert.equal((await fetch(`${server.url}/health/ready`)).status, 200);

      server.child.kill('SIGTERM');
      // The signal is handled asynchronously: poll (bounded) until readiness flips.
      let ready = await fetch(`${server.url}/health/ready`);
      for (let i = 0; i < 100 && ready.status !== 503; i += 1) {
        await new Promise((r) => setTimeout(r, 20));
        ready = await fetch(`${server.url}/health/ready`);
      }
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), { status: 'shutting_down' });
      assert.equal(ready.headers.get('connection'), 'close', 'each connection closes after its answer while draining');

      // Still serving traffic while the load balancer takes the instance out of rotation.
      const live = await fetch(`${server.url}/health/live`);
      assert.equal(live.status, 200);
      const root = await fetch(`${server.url}/`);
      assert.equal(root.status, 200);

      assert.equal(await server.exited, 0);
      await assert.rejects(fetch(`${server.url}/health/live`), 'no longer accepting connections');
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }
  });
});

describe('HTTP server timeouts for running behind a proxy', () => {
  it('keeps idle connections longer than common load balancers (72 s) and bounds slow requests', async () => {
    const t = await buildTestApp();
    try {
      assert.equal(t.app.server.keepAliveTimeout, 72_000);
      assert.equal(t.app.server.requestTimeout, 60_000);
      assert.equal(t.app.server.timeout, 120_000);
    } finally {
      await t.close();
    }
  });

  it('takes its timeouts from the configuration', async () => {
    const t = await buildTestApp({
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '650000',
      HTTP_REQUEST_TIMEOUT_MS: '0',
      HTTP_CONNECTION_TIMEOUT_MS: '0',
    });
    try {
      assert.equal(t.app.server.keepAliveTimeout, 650_000);
      assert.equal(t.app.server.requestTimeout, 0);
      assert.equal(t.app.server.timeout, 0);
    } finally {
      await t.close();
    }
  });
});
