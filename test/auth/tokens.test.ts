import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { createTokenService } from '../../src/auth/tokens.js';
import { bearer, buildTestApp, signUp, type TestApp } from '../helpers/app.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function hs256(secret: Uint8Array, header: object, payload: object): string {
  const signingInput = `${b64(header)}.${b64(payload)}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}

describe('bearer tokens on protected routes', () => {
  let t: TestApp;
  let student: Awaited<ReturnType<typeof signUp>>;
  const now = () => Math.floor(Date.now() / 1000);
  const claims = (over: object = {}) => ({
    sub: student.id,
    role: 'student',
    iat: now(),
    exp: now() + 600,
    jti: 'test-jti',
    ...over,
  });
  const me = (headers: Record<string, string>) => t.app.inject({ url: '/users/me', headers });

  before(async () => {
    t = await buildTestApp();
    student = await signUp(t.app);
  });
  after(() => t.close());

  it('accepts a token the service signed', async () => {
    assert.equal((await me(bearer(student.token))).statusCode, 200);
  });

  it('answers a missing Authorization header with 401 and WWW-Authenticate: Bearer', async () => {
    const res = await me({});
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer');
    assert.deepEqual(res.json(), { detail: 'Not authenticated', code: 'NOT_AUTHENTICATED' });
  });

  it('answers another scheme with 401', async () => {
    assert.equal((await me({ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` })).statusCode, 401);
    assert.equal((await me({ authorization: 'Bearer' })).statusCode, 401);
    assert.equal((await me({ authorization: `Bearer ${student.token} extra` })).statusCode, 401);
  });

  const forged: [string, () => string][] = [
    ['garbage', () => 'garbage'],
    ['a token that fails to decode (defect 3)', () => 'eyJhbGciOi.!!!.xyz'],
    ['non-JSON segments', () => `${Buffer.from('nope').toString('base64url')}.${Buffer.from('nope').toString('base64url')}.sig`],
    ['alg none', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`],
    ['alg none with a signature', () => `${b64({ alg: 'none' })}.${b64(claims())}.${b64('x')}`],
    ['a foreign key', () => hs256(randomBytes(32), { alg: 'HS256', typ: 'JWT' }, claims())],
    ['a forged role claim (re-signed with a guessed key)', () => hs256(Buffer.from('secret'), { alg: 'HS256' }, claims({ role: 'admin' }))],
    ['the old service\'s placeholder key', () => hs256(Buffer.from('your-secret-key-change-in-production'), { alg: 'HS256' }, claims())],
    ['HS512 with the right key (algorithm confusion)', () => {
      const input = `${b64({ alg: 'HS512' })}.${b64(claims())}`;
      return `${input}.${createHmac('sha512', t.secret).update(input).digest('base64url')}`;
    }],
    ['an expired token', () => hs256(t.secret, { alg: 'HS256' }, claims({ iat: now() - 7200, exp: now() - 3600 }))],
    ['a token issued in the future', () => hs256(t.secret, { alg: 'HS256' }, claims({ iat: now() + 3600, exp: now() + 7200 }))],
    ['a sub that is not an ObjectId (defect 3)', () => hs256(t.secret, { alg: 'HS256' }, claims({ sub: 'not-an-id' }))],
    ['a sub that is an object', () => hs256(t.secret, { alg: 'HS256' }, claims({ sub: { $ne: null } }))],
    ['no exp', () => hs256(t.secret, { alg: 'HS256' }, { sub: student.id, role: 'student', iat: now(), jti: 'x' })],
    ['a string exp', () => hs256(t.secret, { alg: 'HS256' }, claims({ exp: 'never' }))],
    ['a crit header', () => hs256(t.secret, { alg: 'HS256', crit: ['b64'], b64: false }, claims())],
    ['a token of 10 kB', () => `${'a'.repeat(5000)}.${'b'.repeat(5000)}.c`],
    ['a tampered payload', () => {
      const [h, , s] = student.token.split('.');
      return `${h}.${b64({ ...claims(), role: 'admin' })}.${s}`;
    }],
  ];
  for (const [name, make] of forged) {
    it(`refuses ${name} with 401`, async () => {
      const res = await me(bearer(make()));
      assert.equal(res.statusCode, 401, res.body);
      assert.equal(res.json().code, 'INVALID_TOKEN');
      assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    });
  }

  it('refuses a valid token of a user that does not exist', async () => {
    const token = hs256(t.secret, { alg: 'HS256' }, claims({ sub: 'ffffffffffffffffffffffff' }));
    assert.equal((await me(bearer(token))).statusCode, 401);
  });

  it("refuses a deleted user's token with 401", async () => {
    const victim = await signUp(t.app);
    const del = await t.app.inject({ method: 'DELETE', url: `/users/${victim.id}`, headers: bearer(victim.token) });
    assert.equal(del.statusCode, 200);
    const res = await me(bearer(victim.token));
    assert.equal(res.statusCode, 401);
  });

  it('uses the stored role, not the role in a validly signed token', async () => {
    // Even signed with the right key, a token saying "admin" does not make a student an admin.
    const token = hs256(t.secret, { alg: 'HS256', typ: 'JWT' }, claims({ role: 'admin' }));
    const res = await t.app.inject({ url: '/users', headers: bearer(token) });
    assert.equal(res.statusCode, 403);
  });
});

describe('createTokenService', () => {
  const secret = randomBytes(32);

  it('issues tokens that jose verifies and that it verifies back', async () => {
    const tokens = createTokenService({ secret, ttlSeconds: 900 });
    const { token, expiresIn } = await tokens.issue({ id: 'abcdefabcdefabcdefabcdef', role: 'teacher' });
    assert.equal(expiresIn, 900);
    const claims = tokens.verify(token);
    assert.equal(claims.sub, 'abcdefabcdefabcdefabcdef');
    assert.equal(claims.role, 'teacher');
    assert.equal(claims.exp - claims.iat, 900);
  });

  it('accepts a token that jose signed with the same secret (HS256 interop)', async () => {
    const tokens = createTokenService({ secret, ttlSeconds: 900 });
    const token = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('0123456789abcdef01234567')
      .setIssuedAt()
      .setExpirationTime('5m')
      .setJti('j')
      .sign(secret);
    assert.equal(tokens.verify(token).role, 'admin');
  });

  it('refuses a token once its exp has passed', async () => {
    let clock = Date.now();
    const tokens = createTokenService({ secret, ttlSeconds: 60, now: () => clock });
    const { token } = await tokens.issue({ id: 'abcdefabcdefabcdefabcdef', role: 'student' });
    clock += 59_000;
    assert.equal(tokens.verify(token).sub, 'abcdefabcdefabcdefabcdef');
    clock += 2_000;
    assert.throws(() => tokens.verify(token), { code: 'INVALID_TOKEN' });
  });

  it('gives every token its own jti', async () => {
    const tokens = createTokenService({ secret, ttlSeconds: 60 });
    const a = tokens.verify((await tokens.issue({ id: 'abcdefabcdefabcdefabcdef', role: 'student' })).token);
    const b = tokens.verify((await tokens.issue({ id: 'abcdefabcdefabcdefabcdef', role: 'student' })).token);
    assert.notEqual(a.jti, b.jti);
  });
});
