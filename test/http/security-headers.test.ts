import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { bearer, buildTestApp, signUp, type TestApp } from '../helpers/app.js';

/** The directives of a Content-Security-Policy header, by name. */
function csp(header: unknown): Map<string, string[]> {
  assert.equal(typeof header, 'string', 'a Content-Security-Policy header');
  return new Map(
    (header as string)
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0] !== '')
      .map(([name, ...values]) => [name as string, values]),
  );
}

describe('security headers (helmet)', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('are sent on API answers, errors included', async () => {
    for (const url of ['/', '/health', '/users/me', '/no-such-route']) {
      const res = await t.app.inject({ url });
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
      assert.equal(res.headers['x-frame-options'], 'DENY', url);
      assert.match(String(res.headers['strict-transport-security']), /max-age=\d+/, url);
      assert.equal(res.headers['referrer-policy'], 'no-referrer', url);
      assert.equal(res.headers['cross-origin-resource-policy'], 'same-origin', url);
      assert.equal(res.headers['cache-control'], 'no-store', url);
      assert.equal(res.headers['x-powered-by'], undefined, url);
      const policy = csp(res.headers['content-security-policy']);
      assert.deepEqual(policy.get('default-src'), ["'none'"], url);
      assert.deepEqual(policy.get('frame-ancestors'), ["'none'"], url);
      // Headers only an HTML document uses stay off JSON answers.
      for (const name of ['cross-origin-opener-policy', 'origin-agent-cluster', 'x-dns-prefetch-control', 'x-xss-protection']) {
        assert.equal(res.headers[name], undefined, `${url} ${name}`);
      }
    }
  });

  it('keep token answers out of every cache (RFC 6749 §5.1), while QR images and the JWKS choose their own', async () => {
    const s = await signUp(t.app);
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: s.body.email, password: s.body.password } });
    assert.equal(login.statusCode, 200);
    assert.equal(login.headers['cache-control'], 'no-store');
    const form = await t.app.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'password', username: s.body.email, password: s.body.password }).toString(),
    });
    assert.equal(form.statusCode, 200);
    assert.equal(form.headers['cache-control'], 'no-store');
    const jwks = await t.app.inject({ url: '/.well-known/jwks.json' });
    assert.equal(jwks.headers['cache-control'], 'public, max-age=300');
    await t.app.inject({ method: 'POST', url: '/qr/generate', headers: bearer(s.token) });
    const image = await t.app.inject({ url: `/qr/${s.id}/image`, headers: bearer(s.token) });
    assert.equal(image.statusCode, 200);
    assert.notEqual(image.headers['cache-control'], 'no-store');
    assert.match(String(image.headers['cache-control']), /private/);
  });

  it('forbid scripts and framing for an SVG QR image opened in a browser', async () => {
    const s = await signUp(t.app);
    const res = await t.app.inject({
      method: 'POST',
      url: '/qr/encode',
      headers: bearer(s.token),
      payload: { data: '<script>alert(1)</script>', format: 'svg' },
    });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /svg/);
    const policy = csp(res.headers['content-security-policy']);
    assert.deepEqual(policy.get('default-src'), ["'none'"]);
    assert.equal(policy.get('script-src'), undefined, 'falls back to none');
  });
});

describe('Swagger UI at /docs under the security headers', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('serves the page, and its policy allows its own scripts, styles and images but nothing inline or foreign', async () => {
    const res = await t.app.inject({ url: '/docs' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    // A document gets helmet's whole set, isolation headers included.
    assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(res.headers['origin-agent-cluster'], '?1');
    const policy = csp(res.headers['content-security-policy']);
    assert.deepEqual(policy.get('script-src'), ["'self'"]);
    assert.deepEqual(policy.get('style-src'), ["'self'"]);
    assert.ok(policy.get('img-src')?.includes("'self'") && policy.get('img-src')?.includes('data:'));
    assert.deepEqual(policy.get('connect-src'), ["'self'"], 'the UI fetches /docs/json and calls the API, same origin');
    assert.ok(!policy.has('upgrade-insecure-requests'), 'plain-HTTP development keeps working');
    // Every script is a same-origin file: with no 'unsafe-inline', an inline one would not run.
    const scripts = [...res.body.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.ok(scripts.length >= 3);
    for (const [, attributes, content] of scripts) {
      assert.match(attributes ?? '', /src="[^"]+"/);
      assert.equal(content?.trim(), '', 'no inline script');
    }
    assert.ok(!/\son[a-z]+=/i.test(res.body), 'no inline event handler');
    assert.ok(!/<style/i.test(res.body), 'no inline style element');
  });

  it('serves every script and stylesheet the page loads, from its own origin', async () => {
    const page = (await t.app.inject({ url: '/docs' })).body;
    const assets = [...page.matchAll(/(?:src|href)="([^"]+\.(?:js|css|png))"/g)].map((m) => m[1] as string);
    assert.ok(assets.some((a) => a.endsWith('swagger-ui-bundle.js')));
    assert.ok(assets.some((a) => a.endsWith('swagger-initializer.js')));
    assert.ok(assets.some((a) => a.endsWith('swagger-ui.css')));
    for (const asset of assets) {
      assert.ok(!/^[a-z]+:|^\/\//i.test(asset), `${asset} is same-origin`);
      const url = new URL(asset, 'http://service.test/docs').pathname;
      const res = await t.app.inject({ url });
      assert.equal(res.statusCode, 200, url);
      const type = String(res.headers['content-type']);
      if (asset.endsWith('.js')) assert.match(type, /javascript/, url);
      if (asset.endsWith('.css')) assert.match(type, /text\/css/, url);
      assert.ok(csp(res.headers['content-security-policy']).get('script-src')?.includes("'self'"), url);
    }
  });

  it('points the UI at its own OpenAPI document, which is served', async () => {
    const initializer = await t.app.inject({ url: '/docs/static/swagger-initializer.js' });
    assert.match(initializer.body, /resolveUrl\('\.\/json'\)/);
    const doc = await t.app.inject({ url: '/docs/json' });
    assert.equal(doc.statusCode, 200);
    assert.ok(doc.json().paths['/users/{user_id}'].patch, 'the new endpoints are documented');
    assert.ok(doc.json().paths['/users'].post);
  });
});

describe('CORS', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ CORS_ORIGINS: 'https://app.example.com, http://localhost:3000' });
  });
  after(() => t.close());

  const get = (origin: string) => t.app.inject({ url: '/', headers: { origin } });
  const preflight = (origin: string, method = 'PATCH') =>
    t.app.inject({
      method: 'OPTIONS',
      url: '/users/0123456789abcdef01234567',
      headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization,content-type' },
    });

  it('allows a configured origin, without credentials, and exposes paging and limit headers', async () => {
    const res = await get('https://app.example.com');
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    assert.match(String(res.headers.vary), /origin/i);
    const exposed = String(res.headers['access-control-expose-headers']).toLowerCase();
    for (const header of ['link', 'retry-after', 'x-request-id']) assert.ok(exposed.includes(header), header);
    assert.equal((await get('http://localhost:3000')).headers['access-control-allow-origin'], 'http://localhost:3000');
  });

  it('answers a preflight for an allowed origin with the methods and headers the API uses', async () => {
    const res = await preflight('https://app.example.com');
    assert.equal(res.statusCode, 204);
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.match(String(res.headers['access-control-allow-methods']), /PATCH/);
    assert.match(String(res.headers['access-control-allow-headers']), /authorization/i);
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
  });

  it('gives an unlisted origin nothing to read (no Access-Control-Allow-Origin)', async () => {
    for (const origin of ['https://evil.example.com', 'https://app.example.com.evil.test', 'http://app.example.com', 'null']) {
      assert.equal((await get(origin)).headers['access-control-allow-origin'], undefined, origin);
      assert.equal((await preflight(origin)).headers['access-control-allow-origin'], undefined, origin);
    }
  });

  it('lets a browser read a 429 (Retry-After included)', async () => {
    const limited = await buildTestApp({ CORS_ORIGINS: 'https://app.example.com', RATE_LIMIT_REGISTER_PER_IP: '1' });
    try {
      const send = () =>
        limited.app.inject({ method: 'POST', url: '/auth/register', payload: {}, headers: { origin: 'https://app.example.com' } });
      await send();
      const res = await send();
      assert.equal(res.statusCode, 429);
      assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
      assert.ok(String(res.headers['access-control-expose-headers']).toLowerCase().includes('retry-after'));
    } finally {
      await limited.close();
    }
  });
});

describe('CORS configuration', () => {
  it('sends no CORS headers at all when CORS_ORIGINS is unset', async () => {
    const t = await buildTestApp();
    try {
      const res = await t.app.inject({ url: '/', headers: { origin: 'https://app.example.com' } });
      assert.equal(res.headers['access-control-allow-origin'], undefined);
      const pre = await t.app.inject({
        method: 'OPTIONS',
        url: '/users/me',
        headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' },
      });
      assert.equal(pre.headers['access-control-allow-origin'], undefined);
    } finally {
      await t.close();
    }
  });

  it('allows any origin with `*`, still never with credentials', async () => {
    const t = await buildTestApp({ CORS_ORIGINS: '*' });
    try {
      const res = await t.app.inject({ url: '/', headers: { origin: 'https://anywhere.example' } });
      assert.equal(res.headers['access-control-allow-origin'], '*');
      assert.equal(res.headers['access-control-allow-credentials'], undefined);
    } finally {
      await t.close();
    }
  });

  it('normalises origins and refuses what a browser would never send', () => {
    assert.deepEqual(loadConfig({ CORS_ORIGINS: 'HTTPS://App.Example.com/, http://localhost:3000' }).corsOrigins, [
      'https://app.example.com',
      'http://localhost:3000',
    ]);
    for (const bad of ['https://app.example.com/path', 'app.example.com', 'ftp://files.example.com', '*,https://a.example.com']) {
      assert.throws(() => loadConfig({ CORS_ORIGINS: bad }), ConfigError, bad);
    }
    assert.throws(() => loadConfig({ REDIS_URL: 'http://127.0.0.1:6379' }), ConfigError);
    assert.equal(loadConfig({ REDIS_URL: 'rediss://cache.internal:6380/0' }).redisUrl, 'rediss://cache.internal:6380/0');
  });
});
