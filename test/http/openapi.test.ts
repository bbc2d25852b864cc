import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../src/config.js';
import { ERROR_CODES } from '../../src/http/error-schemas.js';
import { rateLimitRules } from '../../src/http/rate-limits.js';
import { makeAjv } from '../../src/http/validators.js';
import { bearer, buildTestApp, signUp, type TestApp } from '../helpers/app.js';

// Just the parts of an OpenAPI 3 document these tests read.
interface MediaType {
  schema?: Record<string, unknown>;
  example?: unknown;
  examples?: Record<string, { value: unknown }>;
}
interface Response {
  description?: string;
  content?: Record<string, MediaType>;
}
interface Parameter {
  name: string;
  in: string;
  schema?: Record<string, unknown>;
  example?: unknown;
}
interface Operation {
  tags?: string[];
  summary?: string;
  description?: string;
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
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

/** The examples of a media type (`example`, or the values of `examples`). */
const mediaExamples = (media: MediaType): unknown[] => [
  ...(media.example === undefined ? [] : [media.example]),
  ...Object.values(media.examples ?? {}).map((e) => e.value),
];

/** The `code` values a response's JSON schema lists; undefined when it has no `code`. */
function documentedCodes(response: Response | undefined): string[] | undefined {
  const schema = response?.content?.['application/json']?.schema as
    | { properties?: { code?: { enum?: string[] } } }
    | undefined;
  if (schema?.properties?.code === undefined) return undefined;
  return schema.properties.code.enum ?? [];
}

/** Every source file of src/, by path. */
function sourceFiles(dir = path.resolve(import.meta.dirname, '../../src')): [string, string][] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry): [string, string][] => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(file);
    return entry.name.endsWith('.ts') ? [[file, readFileSync(file, 'utf8')]] : [];
  });
}

const needsBearer = (op: Operation) => op.security?.some((s) => 'bearerAuth' in s) ?? false;
/** `{}` among the alternatives makes a token optional. */
const tokenOptional = (op: Operation) => op.security?.some((s) => Object.keys(s).length === 0) ?? false;

describe('GET /openapi.json', () => {
  let t: TestApp;
  let doc: OpenApiDocument;
  let operations: [string, string, Operation][];

  before(async () => {
    t = await buildTestApp({ OIDC_ISSUER: 'http://127.0.0.1:9/oidc' });
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

  it('says what every operation does and what every response is (no "Default Response")', async () => {
    const raw = (await t.app.inject({ url: '/openapi.json' })).body;
    assert.ok(!raw.includes('Default Response'), 'no response is described as "Default Response"');
    for (const [method, p, op] of operations) {
      assert.ok(typeof op.description === 'string' && op.description.trim() !== '', `${method} ${p}: description`);
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        assert.ok(
          typeof response.description === 'string' && response.description.trim() !== '',
          `${method} ${p} ${status}: description`,
        );
      }
    }
  });

  it('lists the `code` values of every error response', () => {
    for (const [method, p, op] of operations) {
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        if (!/^[45]\d\d$/.test(status)) continue;
        const where = `${method} ${p} ${status}`;
        const codes = documentedCodes(response);
        if (codes === undefined) {
          // The two error bodies without a code: FastAPI's validation list, and the health checks' status.
          const schema = response.content?.['application/json']?.schema as { properties?: Record<string, { type?: string }> };
          const validation = status === '422' && schema.properties?.detail?.type === 'array';
          const health = status === '503' && p.startsWith('/health/');
          assert.ok(validation || health, `${where}: a {detail, code} body without its codes`);
          continue;
        }
        assert.ok(codes.length > 0, `${where}: lists its codes`);
        for (const code of codes) assert.ok(response.description?.includes(`\`${code}\``), `${where}: describes ${code}`);
      }
    }
  });

  it('lists only codes the service really answers, and every code it answers is in the catalogue', () => {
    const files = sourceFiles();
    const catalogue = path.join('http', 'error-schemas.ts');
    const code = files.filter(([file]) => !file.endsWith(catalogue)).map(([, text]) => text).join('\n');
    const listed = new Set(operations.flatMap(([, , op]) => Object.values(op.responses ?? {}).flatMap((r) => documentedCodes(r) ?? [])));
    for (const c of listed) assert.ok(code.includes(`'${c}'`), `${c} is listed in the document but no code in src/ answers it`);
    for (const c of Object.keys(ERROR_CODES)) assert.ok(code.includes(`'${c}'`), `ERROR_CODES.${c} is answered nowhere in src/`);
    // Every code src/ gives an error is explained: `new AppError(status, 'CODE'` and the framework table's `code: 'CODE'`.
    const answered = [...code.matchAll(/new AppError\(\s*\d+,\s*'([A-Z_]+)'|\bcode: '([A-Z_]+)'/g)].map((m) => m[1] ?? m[2]);
    // Answers of no route in particular: an unknown URL, a 500, an unforeseen framework 4xx.
    const routeless = new Set(['NOT_FOUND', 'INTERNAL_ERROR', 'BAD_REQUEST', 'BAD_URL', 'URI_TOO_LONG']);
    for (const c of answered) assert.ok(c !== undefined && (c in ERROR_CODES || routeless.has(c)), `${c} is answered but not in ERROR_CODES`);
  });

  it('lists RATE_LIMITED on every route a rate limit applies to', () => {
    // Which routes are limited depends on the rules alone: any numbers will do.
    const limits = new Proxy({}, { get: () => ({ max: 1, timeWindowMs: 1000 }) }) as Config['rateLimits'];
    const limited = rateLimitRules(limits).flatMap((rule) => rule.routes);
    assert.ok(limited.includes('POST /qr/generate'), 'POST /qr/generate shares the limit of POST /qr/scan');
    for (const route of limited) {
      const [method, url] = route.split(' ') as [string, string];
      // The web front's pages share these limits; they are pages, not API operations.
      if (!/^\/(auth|users|qr|admin)\//.test(url)) continue;
      const op = doc.paths[url.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()];
      assert.ok(op !== undefined, `${route} is documented`);
      assert.ok(documentedCodes(op.responses?.['429'])?.includes('RATE_LIMITED'), `${route}: 429 RATE_LIMITED`);
    }
  });

  it('gives every request body and every JSON success an example that validates against its schema', () => {
    // The app's ajv and formats, but strict about the example itself: nothing removed, added or coerced.
    const ajv = makeAjv({ removeAdditional: false, useDefaults: false, coerceTypes: false });
    const checked: string[] = [];
    const check = (where: string, schema: unknown, example: unknown) => {
      const validate = ajv.compile(schema as object);
      assert.ok(validate(structuredClone(example)), `${where}: the example ${JSON.stringify(example)} breaks its schema: ${ajv.errorsText(validate.errors)}`);
      checked.push(where);
    };
    /** The `example` of every sub-schema, checked against that sub-schema. */
    const checkNested = (where: string, schema: unknown): void => {
      if (typeof schema !== 'object' || schema === null) return;
      const node = schema as Record<string, unknown>;
      if ('example' in node && ('type' in node || 'enum' in node || 'anyOf' in node)) check(where, node, node.example);
      for (const [key, child] of Object.entries(node)) {
        if (key === 'example' || key === 'examples' || key === 'default' || key === 'enum') continue;
        checkNested(`${where}/${key}`, child);
      }
    };
    for (const [method, p, op] of operations) {
      const bodies = Object.entries(op.requestBody?.content ?? {}).map(([type, media]) => [`request ${type}`, media] as const);
      const responses = Object.entries(op.responses ?? {}).flatMap(([status, r]) =>
        Object.entries(r.content ?? {}).map(([type, media]) => [`${status} ${type}`, media] as const),
      );
      for (const [what, media] of [...bodies, ...responses]) {
        const where = `${method} ${p} ${what}`;
        const examples = mediaExamples(media);
        const json = /json|x-www-form-urlencoded/.test(what);
        if (json && (what.startsWith('request') || /^2/.test(what))) assert.ok(examples.length > 0, `${where}: an example`);
        for (const example of examples) check(where, media.schema, example);
        checkNested(where, media.schema);
      }
      for (const parameter of op.parameters ?? []) {
        const where = `${method} ${p} ${parameter.in} ${parameter.name}`;
        if (parameter.example !== undefined) check(where, parameter.schema, parameter.example);
        checkNested(where, parameter.schema);
      }
    }
    assert.ok(checked.length > 80, `${checked.length} examples checked`);
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

  it('declares every error an operation answers, with its code', async () => {
    // Each operation asked without a token and with a student's, with an empty body, an id that names
    // nothing and one that is no id: every error answer is documented, and its code listed.
    const { token } = await signUp(t.app);
    const undeclared: string[] = [];
    // The logouts last: they end the token the others are asked with.
    const logsOut = ([, p]: [string, string, Operation]) => p.startsWith('/auth/logout');
    for (const [method, p, op] of [...operations.filter((o) => !logsOut(o)), ...operations.filter(logsOut)]) {
      for (const id of ['6916cbc709d9eedb316de5c3', 'not-an-id']) {
        for (const headers of [{}, bearer(token)]) {
          const url = p.replace(/\{[^}]+\}/g, id);
          const hasBody = !['GET', 'DELETE'].includes(method);
          const res = await t.app.inject({ method: method as 'GET', url, headers, ...(hasBody ? { payload: {} } : {}) });
          if (res.statusCode < 400) continue;
          const where = `${method} ${url} (${'authorization' in headers ? 'student' : 'no token'}): ${res.statusCode} ${res.body.slice(0, 100)}`;
          const response = op.responses?.[String(res.statusCode)];
          if (response === undefined) {
            undeclared.push(`${where}: status not declared`);
            continue;
          }
          const code = (res.json() as { code?: string }).code;
          if (code !== undefined && !documentedCodes(response)?.includes(code)) undeclared.push(`${where}: code not listed`);
        }
      }
    }
    assert.deepEqual(undeclared, []);
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
    t = await buildTestApp({ OIDC_ISSUER: 'http://127.0.0.1:9/oidc' });
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
