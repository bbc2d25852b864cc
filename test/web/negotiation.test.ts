/**
 * One address, two audiences: a browser (Accept: text/html) gets the web front's page, an API
 * client (curl's * / *, a script's application/json, the old service's clients) keeps its JSON, at
 * `GET /` and for an address that names nothing. Pages carry the pages' headers (their CSP, no
 * caching), JSON the API's; so do addresses the router cannot read (too long, broken escapes).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';

const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('pages for browsers, JSON for API clients', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(async () => {
    await t?.close();
  });

  it('GET /: the start page for a browser, the old JSON for everyone else', async () => {
    const page = await t.app.inject({ url: '/', headers: { accept: BROWSER } });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /^<!doctype html>\n<html lang="en">/);
    assert.match(page.body, /<h1[^>]*>Welcome<\/h1>/);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    assert.equal(page.headers['cache-control'], 'no-store');

    for (const accept of [undefined, '*/*', 'application/json']) {
      const res = await t.app.inject({ url: '/', headers: accept === undefined ? {} : { accept } });
      assert.equal(res.statusCode, 200, `Accept: ${accept}`);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.equal(typeof res.json().message, 'string', 'the old service\'s {"message": …}');
    }
  });

  it('an unknown address: a 404 page for a browser, a 404 JSON error for everyone else', async () => {
    const page = await t.app.inject({ url: '/no/such/page?x=1', headers: { accept: BROWSER } });
    assert.equal(page.statusCode, 404);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /<title>Not found · [^<]+<\/title>/);
    assert.match(page.body, /<h1[^>]*>Page not found<\/h1>/);
    assert.match(page.body, /href="\/sign-in"/, 'the navigation leads on');
    assert.doesNotMatch(page.body, /x=1/, 'the address is not echoed');

    const json = await t.app.inject({ method: 'POST', url: '/no/such/page', headers: { accept: 'application/json' } });
    assert.equal(json.statusCode, 404);
    assert.deepEqual(json.json(), { detail: 'Not Found: POST /no/such/page', code: 'NOT_FOUND' });
  });

  it('an address the router cannot read: a clear JSON error with the API headers, or the 404 page', async () => {
    const long = 'a'.repeat(150);
    const cases = [
      { url: `/users/${long}`, status: 414, code: 'URI_TOO_LONG' },
      { url: `/qr/${long}/image`, status: 414, code: 'URI_TOO_LONG' },
      { url: '/users/%zz', status: 400, code: 'BAD_URL' },
    ];
    for (const { url, status, code } of cases) {
      const res = await t.app.inject({ url, headers: { accept: 'application/json' } });
      assert.equal(res.statusCode, status, url);
      assert.equal(res.json().code, code, url);
      assert.equal(typeof res.json().detail, 'string');
      assert.match(String(res.headers['content-security-policy']), /default-src 'none'/, 'the API headers');
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.ok(res.headers['x-request-id'], 'a request id');
    }
    for (const url of [`/manage/users/${long}`, `/manage/users/${long}/delete`, '/manage/users/%zz']) {
      const page = await t.app.inject({ url, headers: { accept: BROWSER } });
      assert.equal(page.statusCode, 404, url);
      assert.match(page.body, /<h1[^>]*>Page not found<\/h1>/);
      assert.match(String(page.headers['content-security-policy']), /script-src 'self'/, 'the pages\' headers');
    }
  });
});
