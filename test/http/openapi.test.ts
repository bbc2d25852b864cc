import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';

// Just the parts of an OpenAPI 3 document these tests read.
interface MediaType {
  schema?: Record<string, unknown>;
}
interface Response {
  description?: string;
  content?: Record<string, MediaType>;
}
interface Operation {
  tags?: string[];
  summary?: string;
  security?: Record<string, string[]>[];
  requestBody?: { content?: Record<string, MediaType> };
  responses?: Record<string, Response>;
}
interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  tags?: { name: string }[];
  paths: Record<string, Record<string, Operation>>;
  components?: { securitySchemes?: Record<string, Record<string, unknown>> };
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** Every documented operation, as [METHOD, path, operation]. */
function operationsOf(doc: OpenApiDocument): [string, string, Operation][] {
  return Object.entries(doc.paths).flatMap(([p, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]): [string, string, Operation] => [method.toUpperCase(), p, op]),
  );
}

const needsBearer = (op: Operation) => op.security?.some((s) => 'bearerAuth' in s) ?? false;
/** `{}` among the alternatives makes a token optional. */
const tokenOptional = (op: Operation) => op.security?.some((s) => Object.keys(s).length === 0) ?? false;

describe('GET /openapi.json', () => {
  let t: TestApp;
  let doc: OpenApiDocument;
  let operations: [string, string, Operation][];

  before(async () => {
    t = await buildTestApp();
    const res = await t.app.inject({ url: '/openapi.json' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    doc = res.json();
    operations = operationsOf(doc);
  });
  after(() => t.close());

  it('is an OpenAPI 3 document describing the service', () => {
    assert.match(doc.openapi, /^3\.\d+\.\d+$/);
    assert.equal(typeof doc.info.title, 'string');
    assert.equal(doc.info.version, '1.0.0');
    assert.ok(operations.length > 0);
  });

  it('declares the bearer security scheme for Swagger\'s "Authorize" button', () => {
    const scheme = doc.components?.securitySchemes?.bearerAuth;
    assert.ok(scheme !== undefined, 'components.securitySchemes.bearerAuth');
    assert.equal(scheme.type, 'http');
    assert.equal(scheme.scheme, 'bearer');
  });

  it("documents every endpoint of the old service's contract", () => {
    const documented = new Set(operations.map(([m, p]) => `${m} ${p}`));
    for (const route of [
      'GET /',
      'GET /health/db',
      'POST /auth/register',
      'POST /auth/login',
      'GET /users/me',
      'GET /users',
      'GET /users/{user_id}',
      'DELETE /users/{user_id}',
      'POST /qr/generate',
      'GET /qr/{user_id}',
    ]) {
      assert.ok(documented.has(route), `${route} is documented`);
    }
  });

  it('gives every operation tags (declared at the top) and a summary', () => {
    const declared = new Set((doc.tags ?? []).map((tag) => tag.name));
    for (const [method, p, op] of operations) {
      assert.ok(Array.isArray(op.tags) && op.tags.length > 0, `${method} ${p}: tags`);
      for (const tag of op.tags) assert.ok(declared.has(tag), `${method} ${p}: tag "${tag}" is declared in doc.tags`);
      assert.ok(typeof op.summary === 'string' && op.summary.trim() !== '', `${method} ${p}: summary`);
    }
  });

  it('gives every operation a success response, with a schema for each body it describes', () => {
    for (const [method, p, op] of operations) {
      const responses = Object.entries(op.responses ?? {});
      assert.ok(
        responses.some(([status]) => /^2\d\d$/.test(status)),
        `${method} ${p}: a 2xx response is documented`,
      );
      for (const [status, response] of responses) {
        assert.equal(typeof response.description, 'string', `${method} ${p} ${status}: description`);
        if (status === '204' || status === '304') continue;
        const content = Object.entries(response.content ?? {});
        assert.ok(content.length > 0, `${method} ${p} ${status}: content`);
        for (const [mediaType, media] of content) {
          assert.ok(
            media.schema !== undefined && Object.keys(media.schema).length > 0,
            `${method} ${p} ${status} ${mediaType}: schema`,
          );
        }
      }
    }
  });

  it('requires bearerAuth on every /users and /qr operation (but the public badge check)', () => {
    // POST /qr/verify is public on purpose: door and desk scanners check badges without a login.
    const isPublic = (method: string, p: string) => method === 'POST' && p === '/qr/verify';
    const guarded = operations.filter(
      ([method, p]) => (p === '/users' || p.startsWith('/users/') || p.startsWith('/qr/')) && !isPublic(method, p),
    );
    assert.ok(guarded.length >= 6, 'the users and QR operations are documented');
    for (const [method, p, op] of guarded) {
      assert.ok(needsBearer(op), `${method} ${p}: security lists bearerAuth`);
      assert.ok(!tokenOptional(op), `${method} ${p}: the token is not optional`);
    }
  });

  it('lists bearerAuth on every operation that refuses a request without a token', async () => {
    // The document and the behaviour agree: ask each operation without a token.
    for (const [method, p, op] of operations) {
      const url = p.replace(/\{[^}]+\}/g, '6916cbc709d9eedb316de5c3');
      const res = await t.app.inject({ method: method as 'GET', url, ...(method === 'GET' || method === 'DELETE' ? {} : { payload: {} }) });
      if (res.statusCode === 401 && res.json().code === 'NOT_AUTHENTICATED') {
        assert.ok(needsBearer(op), `${method} ${p} answers 401 without a token but its security omits bearerAuth`);
      }
      if (needsBearer(op) && !tokenOptional(op)) {
        assert.equal(res.statusCode, 401, `${method} ${p} is documented as needing a token: ${res.body}`);
      }
    }
  });

  it('describes the JSON request bodies of POST /auth/register and POST /auth/login', () => {
    const bodySchema = (p: string) => {
      const schema = doc.paths[p]?.post?.requestBody?.content?.['application/json']?.schema as
        | { type?: string; properties?: Record<string, unknown>; required?: string[] }
        | undefined;
      assert.ok(schema !== undefined, `POST ${p}: application/json request body schema`);
      return schema;
    };
    const registerBody = bodySchema('/auth/register');
    for (const field of ['username', 'email', 'password']) {
      assert.ok(registerBody.properties?.[field] !== undefined, `register: ${field}`);
      assert.ok(registerBody.required?.includes(field), `register: ${field} required`);
    }
    for (const field of ['full_name', 'role']) assert.ok(registerBody.properties?.[field] !== undefined, `register: ${field}`);
    const loginBody = bodySchema('/auth/login');
    for (const field of ['email', 'password']) {
      assert.ok(loginBody.properties?.[field] !== undefined, `login: ${field}`);
      assert.ok(loginBody.required?.includes(field), `login: ${field} required`);
    }
  });
});

describe('GET /docs', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  /** Follows redirects the way a browser would, within the app. */
  async function follow(url: string) {
    for (let hops = 0; hops < 5; hops++) {
      const res = await t.app.inject({ url });
      const location = res.headers.location;
      if (res.statusCode < 300 || res.statusCode >= 400 || location === undefined) return res;
      url = new URL(String(location), `http://localhost${url}`).pathname;
    }
    assert.fail('too many redirects');
  }

  it('serves Swagger UI as HTML', async () => {
    for (const url of ['/docs', '/docs/']) {
      const res = await follow(url);
      assert.equal(res.statusCode, 200, url);
      assert.match(String(res.headers['content-type']), /^text\/html/, url);
      assert.match(res.body, /swagger/i, url);
    }
  });

  it('points Swagger UI at the same document as /openapi.json', async () => {
    const ui = await t.app.inject({ url: '/docs/json' });
    assert.equal(ui.statusCode, 200);
    const published = await t.app.inject({ url: '/openapi.json' });
    assert.deepEqual(Object.keys(ui.json().paths).sort(), Object.keys(published.json().paths).sort());
  });
});
