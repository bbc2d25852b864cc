import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifySchema, FastifySchemaValidationError } from 'fastify';
import { MAX_VALIDATION_ISSUES, toValidationIssues } from '../../src/http/validation-errors.js';
import { createValidatorCompiler } from '../../src/http/validators.js';
import { bearer, buildTestApp, newUserBody, signUp, type TestApp } from '../helpers/app.js';

interface Issue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

describe('422 validation answers', () => {
  let t: TestApp;
  let token: string;
  let userId: string;
  before(async () => {
    t = await buildTestApp();
    ({ token, id: userId } = await signUp(t.app));
  });
  after(() => t.close());

  const issuesOf = (res: { statusCode: number; body: string; json(): unknown }): Issue[] => {
    assert.equal(res.statusCode, 422, res.body);
    return (res.json() as { detail: Issue[] }).detail;
  };

  it('lists every problem of the body, not only the first', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { username: 'ab', email: 'not-an-email', full_name: 'Alice' },
    });
    assert.deepEqual(issuesOf(res).map((issue) => `${issue.loc.join('.')} ${issue.type}`).sort(), [
      'body.email value_error',
      'body.password missing',
      'body.username string_too_short',
    ]);
  });

  it('lists the problems of the query string and the path together with their part', async () => {
    const res = await t.app.inject({ url: `/qr/${userId}/image?size=1&dark=red&ecc=Z`, headers: bearer(token) });
    assert.deepEqual(issuesOf(res).map((issue) => issue.loc.join('.')).sort(), ['query.dark', 'query.ecc', 'query.size']);
  });

  it('says one problem once for a nullable field, not once per alternative', async () => {
    const wrongType = await t.app.inject({ method: 'POST', url: '/auth/register', payload: newUserBody({ full_name: 5 }) });
    assert.deepEqual(issuesOf(wrongType), [
      { loc: ['body', 'full_name'], msg: 'Input should be a valid string or null', type: 'string_type' },
    ]);
    const tooLong = await t.app.inject({ method: 'POST', url: '/auth/register', payload: newUserBody({ full_name: 'x'.repeat(201) }) });
    assert.deepEqual(issuesOf(tooLong), [
      { loc: ['body', 'full_name'], msg: 'String should have at most 200 characters', type: 'string_too_long' },
    ]);
  });

  describe('a value that breaks a pattern is told the expected form', () => {
    const patternIssue = (issues: Issue[], loc: string) => {
      const issue = issues.find((i) => i.loc.join('.') === loc);
      assert.ok(issue !== undefined, `an issue at ${loc}: ${JSON.stringify(issues)}`);
      assert.equal(issue.type, 'string_pattern_mismatch');
      assert.doesNotMatch(issue.msg, /[\^$\\[\]{}]/, 'the message says the form in words, not the regular expression');
      return issue.msg;
    };

    it('a user id: a 24-character hex id', async () => {
      const res = await t.app.inject({ url: '/users/not-an-id', headers: bearer(token) });
      assert.equal(patternIssue(issuesOf(res), 'path.user_id'), 'String should be a 24-character hex id');
    });

    it('a colour: #rrggbb', async () => {
      const res = await t.app.inject({ url: `/qr/${userId}/image?dark=navy`, headers: bearer(token) });
      assert.match(patternIssue(issuesOf(res), 'query.dark'), /#rrggbb/);
      const encode = await t.app.inject({
        method: 'POST',
        url: '/qr/encode',
        headers: bearer(token),
        payload: { data: 'hello', light: '#fff' },
      });
      assert.match(patternIssue(issuesOf(encode), 'body.light'), /#rrggbb/);
    });

    it('a QR sign-in id: the 22-character id from POST /auth/qr-login/start', async () => {
      const res = await t.app.inject({ url: '/auth/qr-login/short', headers: { 'x-qr-login-secret': 'x' } });
      assert.match(patternIssue(issuesOf(res), 'path.id'), /22-character id from POST \/auth\/qr-login\/start/);
    });

    it('a username: text without control characters', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/auth/register', payload: newUserBody({ username: 'bob\u0000by' }) });
      assert.match(patternIssue(issuesOf(res), 'body.username'), /without control characters/);
    });
  });
});

describe('toValidationIssues', () => {
  it(`lists at most ${MAX_VALIDATION_ISSUES} issues, however many problems a request has`, () => {
    // A schema with an array: every item can fail, so ajv (allErrors) reports thousands.
    const validate = createValidatorCompiler()({
      schema: { type: 'object', properties: { ids: { type: 'array', items: { type: 'string', pattern: '^[0-9]+$' } } } } as FastifySchema,
      httpPart: 'body',
      method: 'POST',
      url: '/test',
    });
    assert.equal(validate({ ids: Array.from({ length: 5000 }, () => 'x') }), false);
    const errors = validate.errors as FastifySchemaValidationError[];
    assert.equal(errors.length, 5000);
    const issues = toValidationIssues(errors, 'body');
    assert.equal(issues.length, MAX_VALIDATION_ISSUES);
    assert.deepEqual(issues[0]?.loc, ['body', 'ids', 0]);
  });

  it('without a stated form, a pattern error still never shows the regular expression', () => {
    const [issue] = toValidationIssues(
      [{ keyword: 'pattern', instancePath: '/code', schemaPath: '#/properties/code/pattern', params: { pattern: '^[0-9]{6}$' } }],
      'body',
    );
    assert.deepEqual(issue, {
      loc: ['body', 'code'],
      msg: 'String contains characters or a form that is not allowed',
      type: 'string_pattern_mismatch',
    });
  });
});
