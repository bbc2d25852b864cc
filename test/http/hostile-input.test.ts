/**
 * Every route of the OpenAPI document, fed hostile input with and without a token: nothing may
 * answer 5xx, every error is JSON with a detail, and the document declares it with its code. A
 * route added later is covered by its presence in the document alone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, buildTestApp, signUp, type TestApp } from '../helpers/app.js';

const PAYLOADS: { name: string; contentType: string; body: string }[] = [
  { name: 'malformed JSON', contentType: 'application/json', body: '{"a": ' },
  { name: 'a JSON array', contentType: 'application/json', body: '[1, 2, 3]' },
  { name: 'null', contentType: 'application/json', body: 'null' },
  { name: 'operators where strings belong', contentType: 'application/json', body: '{"email": {"$gt": ""}, "password": {"$ne": null}, "data": {"$where": "1"}, "code": [1], "refresh_token": {}, "mfa_token": 1, "token": true}' },
  { name: 'a prototype key', contentType: 'application/json', body: '{"__proto__": {"admin": true}}' },
  { name: 'NUL bytes and a long string', contentType: 'application/json', body: JSON.stringify({ email: 'a\u0000@b.c', password: 'x'.repeat(5000), username: '\u0000\u0001', data: 'y'.repeat(5000) }) },
  { name: 'text', contentType: 'text/plain', body: 'hello' },
  { name: 'garbage bytes', contentType: 'application/octet-stream', body: '\u0089PNG\r\n\u001a\n garbage' },
];

type Responses = Record<string, { content?: Record<string, { schema?: { properties?: { code?: { enum?: string[] } } } }> }>;

describe('hostile input on every documented route', () => {
  let t: TestApp;
  let routes: { method: string; url: string; responses: Responses }[];
  let token: string;
  before(async () => {
    t = await buildTestApp();
    token = (await signUp(t.app)).token;
    const doc = (await t.app.inject({ url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { responses: Responses }>>;
    };
    routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({
        method: method.toUpperCase(),
        // Path parameters get a value that is not an id, and one that is but names nothing.
        url: path.replace(/\{[^}]+\}/g, '%7B%24ne%7D'),
        responses: op.responses,
      })),
    );
    routes.push(...routes.map((r) => ({ ...r, url: r.url.replaceAll('%7B%24ne%7D', 'ffffffffffffffffffffffff') })));
  });
  after(() => t.close());

  it('never answers 5xx, with or without a token, and documents every error it answers', async () => {
    assert.ok(routes.length > 40, `${routes.length} routes documented`);
    const failures: string[] = [];
    for (const route of routes) {
      for (const payload of PAYLOADS) {
        for (const headers of [{}, bearer(token)]) {
          const hasBody = !['GET', 'DELETE', 'HEAD'].includes(route.method);
          const res = await t.app.inject({
            method: route.method as 'GET',
            url: `${route.url}?limit=-1&cursor=%24&format=%00&size=99999999`,
            headers: { ...headers, ...(hasBody ? { 'content-type': payload.contentType } : {}) },
            ...(hasBody ? { payload: payload.body } : {}),
          });
          if (res.statusCode >= 500) failures.push(`${route.method} ${route.url} (${payload.name}): ${res.statusCode} ${res.body.slice(0, 120)}`);
          if (res.statusCode >= 400 && res.headers['content-type']?.toString().startsWith('application/json')) {
            if (!('detail' in res.json())) failures.push(`${route.method} ${route.url} (${payload.name}): no detail`);
            const declared = route.responses[String(res.statusCode)];
            const code = (res.json() as { code?: unknown }).code;
            const listed = declared?.content?.['application/json']?.schema?.properties?.code?.enum ?? [];
            if (declared === undefined) failures.push(`${route.method} ${route.url} (${payload.name}): ${res.statusCode} not documented`);
            else if (typeof code === 'string' && !listed.includes(code)) {
              failures.push(`${route.method} ${route.url} (${payload.name}): ${res.statusCode} ${code} not listed`);
            }
          }
        }
      }
    }
    assert.deepEqual(failures, []);
  });
});
