/**
 * Every route of the OpenAPI document, fed hostile input with and without a token: nothing may
 * answer 5xx, every error is JSON with a detail, and the document declares it with its code. A
 * route added later is covered by its presence in the document alone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, buildTestApp, newUserBody, signUp, type TestApp } from '../helpers/app.js';

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
    t = await buildTestApp({ OIDC_ISSUER: 'http://127.0.0.1:9/oidc' });
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

/** Junk a form can carry: every field name the pages read, with values no page expects. */
function junkForms(csrf: string): { name: string; contentType: string; body: string }[] {
  const fields = ['login', 'password', 'email', 'username', 'full_name', 'code', 'next', 'token', 'new_password', 'current_password', 'role', 'disabled', 'id', 'q', 'confirm', 'replace', 'data', 'session_id', 'type', 'user_id', 'before', 'cursor'];
  const form = (value: (name: string) => string) =>
    [`_csrf=${encodeURIComponent(csrf)}`, ...fields.map((f) => `${f}=${encodeURIComponent(value(f))}`)].join('&');
  return [
    { name: 'only the token', contentType: 'application/x-www-form-urlencoded', body: `_csrf=${encodeURIComponent(csrf)}` },
    { name: 'huge values', contentType: 'application/x-www-form-urlencoded', body: form(() => 'x'.repeat(3000)) },
    { name: 'control characters and markup', contentType: 'application/x-www-form-urlencoded', body: form(() => '\u0000\u001b[31m<script>alert(1)</script>\u202e') },
    { name: 'repeated fields', contentType: 'application/x-www-form-urlencoded', body: `${form(() => 'a')}&${form(() => 'b')}` },
    { name: 'a next outside the service', contentType: 'application/x-www-form-urlencoded', body: form((f) => (f === 'next' ? '//evil.example/x' : 'https://evil.example')) },
    { name: 'JSON with wrong types', contentType: 'application/json', body: JSON.stringify({ _csrf: csrf, login: { $gt: '' }, password: [1], email: null, code: 123456 }) },
    { name: 'text', contentType: 'text/plain', body: 'hello' },
    { name: 'broken multipart', contentType: 'multipart/form-data; boundary=xyz', body: '--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\nnot an image' },
  ];
}

describe('hostile input on every page of the web front', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ OIDC_ISSUER: 'http://127.0.0.1:9/oidc', RATE_LIMIT_LOGIN_PER_ACCOUNT: '100000', RATE_LIMIT_REAUTH_PER_USER: '100000', RATE_LIMIT_QR_SCAN_PER_USER: '100000' });
  });
  after(() => t.close());

  let address = 0;
  const from = () => `10.77.${Math.floor(address / 250)}.${(address++ % 250) + 1}`;

  /** A browser's cookies and the CSRF token of its forms: anonymous, or signed in through /sign-in. */
  async function browser(credentials?: { login: string; password: string }) {
    const ip = from();
    const page = await t.app.inject({ url: '/sign-in', headers: { accept: 'text/html' }, remoteAddress: ip });
    let cookie = String(page.headers['set-cookie']).split(';')[0] as string;
    let csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] as string;
    if (credentials !== undefined) {
      const signedIn = await t.app.inject({
        method: 'POST',
        url: '/sign-in',
        remoteAddress: ip,
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
        payload: new URLSearchParams({ _csrf: csrf, login: credentials.login, password: credentials.password, next: '/account' }).toString(),
      });
      assert.equal(signedIn.statusCode, 303, signedIn.body.slice(0, 200));
      cookie = `${cookie}; ${String(signedIn.headers['set-cookie']).split(';')[0]}`;
      const account = await t.app.inject({ url: '/account', headers: { cookie, accept: 'text/html' }, remoteAddress: ip });
      csrf = /name="_csrf" value="([^"]+)"/.exec(account.body)?.[1] as string;
    }
    return { cookie, csrf, ip };
  }

  it('never answers 5xx, anonymous, signed in or as an admin; every refusal is a page', async () => {
    const routes = t.pageRoutes.filter((r) => r.method !== 'HEAD');
    assert.ok(routes.length > 40, `${routes.length} page routes`);
    const student = newUserBody();
    assert.equal((await t.app.inject({ method: 'POST', url: '/auth/register', payload: student })).statusCode, 201);
    const admin = newUserBody();
    await t.users.ensureAdmin({ email: admin.email, password: admin.password, username: admin.username });
    const failures: string[] = [];
    for (const who of [undefined, { login: student.email, password: student.password }, { login: admin.email, password: admin.password }]) {
      for (const route of routes) {
        for (const id of ['%7B%24ne%7D', 'ffffffffffffffffffffffff']) {
          // A fresh sign-in for each route: one route may end the session (sign out, delete).
          const b = await browser(who);
          const url = `${route.url.replace(/:[a-z_]+/g, id)}?next=%2F%2Fevil.example&id=%00&token=${'t'.repeat(600)}&q=%27&role=root&before=x&cursor=%24`;
          const payloads = route.method === 'GET' ? [undefined] : junkForms(b.csrf);
          for (const payload of payloads) {
            const res = await t.app.inject({
              method: route.method as 'GET',
              url,
              remoteAddress: b.ip,
              headers: {
                cookie: b.cookie,
                accept: 'text/html',
                'sec-fetch-site': 'same-origin',
                ...(payload ? { 'content-type': payload.contentType } : {}),
              },
              ...(payload ? { payload: payload.body } : {}),
            });
            const label = `${who === undefined ? 'anonymous' : who.login === admin.email ? 'admin' : 'student'} ${route.method} ${url.slice(0, 60)} (${payload?.name ?? 'GET'})`;
            if (res.statusCode >= 500) failures.push(`${label}: ${res.statusCode} ${res.body.slice(0, 160)}`);
            const type = String(res.headers['content-type'] ?? '');
            // Pages answer pages; the few JSON routes of the pages (the QR screen's status) answer JSON.
            if (res.statusCode >= 400 && !type.startsWith('text/html') && !type.startsWith('application/json')) {
              failures.push(`${label}: ${res.statusCode} as ${type}`);
            }
            const location = String(res.headers.location ?? '');
            if (location.startsWith('//') || /^[a-z]+:/i.test(location)) failures.push(`${label}: redirects away to ${location}`);
          }
        }
      }
    }
    assert.deepEqual(failures, []);
  });
});
