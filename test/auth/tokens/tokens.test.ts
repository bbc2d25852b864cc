import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { jwtVerify, SignJWT } from 'jose';
import { generateSigningJwk, type KeySet, parseSigningKeys } from '../../../src/auth/tokens/keys.js';
import { createTokenService } from '../../../src/auth/tokens/tokens.js';
import { bearer, buildTestApp, signUp, type TestApp } from '../../helpers/app.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** The old service's secret, still accepted (HS256) beside the EdDSA keys. */
// A random HS256 key, as `openssl rand -base64 48` makes one (placeholders are refused at start-up).
const SECRET = randomBytes(48).toString('base64');

function hs256(secret: Uint8Array | string, header: object, payload: object): string {
  const signingInput = `${b64(header)}.${b64(payload)}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}

function eddsa(privateKey: KeyObject, header: object, payload: object): string {
  const signingInput = `${b64(header)}.${b64(payload)}`;
  return `${signingInput}.${sign(null, Buffer.from(signingInput), privateKey).toString('base64url')}`;
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
  const kid = () => t.keys.signing?.kid as string;
  const ownKey = () => t.keys.signing?.privateKey as KeyObject;

  before(async () => {
    t = await buildTestApp({ JWT_SECRET: SECRET, JWT_ALG: 'EdDSA' });
    student = await signUp(t.app);
  });
  after(() => t.close());

  it('accepts the EdDSA token the service signed', async () => {
    assert.equal((await me(bearer(student.token))).statusCode, 200);
    assert.equal(JSON.parse(Buffer.from(student.token.split('.')[0] as string, 'base64url').toString()).alg, 'EdDSA');
  });

  it("accepts an HS256 token made with JWT_SECRET, even the old service's bare {sub, role, exp}", async () => {
    assert.equal((await me(bearer(hs256(SECRET, { alg: 'HS256', typ: 'JWT' }, claims())))).statusCode, 200);
    const old = hs256(SECRET, { alg: 'HS256', typ: 'JWT' }, { sub: student.id, role: 'student', exp: now() + 600 });
    assert.equal((await me(bearer(old))).statusCode, 200);
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

  const foreign = generateKeyPairSync('ed25519').privateKey;
  const forged: [string, () => string][] = [
    ['garbage', () => 'garbage'],
    ['a token that fails to decode (defect 3)', () => 'eyJhbGciOi.!!!.xyz'],
    ['non-JSON segments', () => `${Buffer.from('nope').toString('base64url')}.${Buffer.from('nope').toString('base64url')}.sig`],
    ['alg none', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`],
    ['alg none with a signature', () => `${b64({ alg: 'none' })}.${b64(claims())}.${b64('x')}`],
    ['an HS256 token with a foreign secret', () => hs256(randomBytes(32), { alg: 'HS256', typ: 'JWT' }, claims())],
    ['a forged role claim (re-signed with a guessed key)', () => hs256('secret', { alg: 'HS256' }, claims({ role: 'admin' }))],
    ["the old service's placeholder key", () => hs256('your-secret-key-change-in-production', { alg: 'HS256' }, claims())],
    ['an EdDSA token signed by a foreign key under our kid', () => eddsa(foreign, { alg: 'EdDSA', kid: kid() }, claims())],
    ['an EdDSA token with an unknown kid', () => eddsa(ownKey(), { alg: 'EdDSA', kid: 'unknown' }, claims())],
    ['an EdDSA token with no kid', () => eddsa(ownKey(), { alg: 'EdDSA' }, claims())],
    [
      'HS256 keyed with our public key (algorithm confusion)',
      () => hs256(Buffer.from(t.keys.signing?.publicJwk.x as string, 'base64url'), { alg: 'HS256', kid: kid() }, claims()),
    ],
    ['HS512 with the right secret', () => {
      const input = `${b64({ alg: 'HS512' })}.${b64(claims())}`;
      return `${input}.${createHmac('sha512', SECRET).update(input).digest('base64url')}`;
    }],
    ['an expired token', () => eddsa(ownKey(), { alg: 'EdDSA', kid: kid() }, claims({ iat: now() - 7200, exp: now() - 3600 }))],
    ['a token issued in the future', () => eddsa(ownKey(), { alg: 'EdDSA', kid: kid() }, claims({ iat: now() + 3600, exp: now() + 7200 }))],
    ['a sub that is not an ObjectId (defect 3)', () => hs256(SECRET, { alg: 'HS256' }, claims({ sub: 'not-an-id' }))],
    ['a sub that is an object', () => hs256(SECRET, { alg: 'HS256' }, claims({ sub: { $ne: null } }))],
    ['no exp', () => hs256(SECRET, { alg: 'HS256' }, { sub: student.id, role: 'student', iat: now(), jti: 'x' })],
    ['a string exp', () => hs256(SECRET, { alg: 'HS256' }, claims({ exp: 'never' }))],
    ['a negative token version', () => hs256(SECRET, { alg: 'HS256' }, claims({ ver: -1 }))],
    ['a crit header', () => hs256(SECRET, { alg: 'HS256', crit: ['b64'], b64: false }, claims())],
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
    const token = eddsa(ownKey(), { alg: 'EdDSA', kid: kid() }, claims({ sub: 'ffffffffffffffffffffffff' }));
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
    const token = eddsa(ownKey(), { alg: 'EdDSA', typ: 'JWT', kid: kid() }, claims({ role: 'admin' }));
    const res = await t.app.inject({ url: '/users', headers: bearer(token) });
    assert.equal(res.statusCode, 403);
  });

  it('refuses a token issued under an older token version', async () => {
    const token = eddsa(ownKey(), { alg: 'EdDSA', kid: kid() }, claims({ ver: 0 }));
    const s = await signUp(t.app);
    await t.store.bumpTokenVersion(s.id);
    assert.equal((await me(bearer(eddsa(ownKey(), { alg: 'EdDSA', kid: kid() }, { ...claims(), sub: s.id, ver: 0 })))).statusCode, 401);
    assert.equal((await me(bearer(s.token))).statusCode, 401, 'its login token too');
    assert.equal((await me(bearer(token))).statusCode, 200, "other users' tokens are untouched");
  });
});

describe('keys and rotation', () => {
  it('keeps tokens of the previous key valid after a new key is put first, until they expire', async () => {
    const oldJwk = await generateSigningJwk();
    const newJwk = await generateSigningJwk();
    const before = await buildTestApp({ JWT_SIGNING_KEYS: JSON.stringify([oldJwk]) });
    const session = await signUp(before.app);
    await before.app.close();
    // The same database (SQLite file or PostgreSQL database), restarted with the new key in front
    // and the old one still listed.
    const db = before.config.database;
    const rotated = await buildTestApp({
      JWT_SIGNING_KEYS: JSON.stringify([newJwk, oldJwk]),
      DATABASE_URL: db.kind === 'sqlite' ? `sqlite:${db.file}` : db.url,
    });
    try {
      assert.equal((await rotated.app.inject({ url: '/users/me', headers: bearer(session.token) })).statusCode, 200);
      const fresh = await rotated.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: session.body.email, password: session.body.password },
      });
      const header = JSON.parse(Buffer.from(fresh.json().access_token.split('.')[0], 'base64url').toString());
      assert.equal(header.kid, newJwk.kid, 'the first key signs');
      const jwks = (await rotated.app.inject({ url: '/.well-known/jwks.json' })).json();
      assert.deepEqual(jwks.keys.map((k: { kid: string }) => k.kid), [newJwk.kid, oldJwk.kid]);
      assert.ok(jwks.keys.every((k: Record<string, unknown>) => k.d === undefined), 'no private part is published');
    } finally {
      await rotated.close();
      await before.close();
    }
  });

  it('refuses malformed key lists with a clear message', () => {
    assert.throws(() => parseSigningKeys('not json'), /not valid JSON/);
    assert.throws(() => parseSigningKeys('[]'), /non-empty/);
    assert.throws(() => parseSigningKeys('[{"kty":"oct","k":"abc"}]'), /Ed25519 private JWK/);
  });
});

describe('createTokenService', () => {
  let keys: KeySet;
  before(async () => {
    const signing = parseSigningKeys(JSON.stringify([await generateSigningJwk()]));
    keys = { alg: 'EdDSA', signing: signing[0] ?? null, verifying: new Map(signing.map((k) => [k.kid, k])), hmacSecret: Buffer.from(SECRET) };
  });
  const subject = { id: 'abcdefabcdefabcdefabcdef', role: 'teacher' as const, tokenVersion: 3, sessionId: '0123456789abcdef01234567' };

  it('issues tokens it verifies back, with every claim', async () => {
    const tokens = createTokenService({ keys, ttlSeconds: 900, issuer: 'https://auth.example', audience: 'school' });
    const { token, expiresIn } = await tokens.issue(subject);
    assert.equal(expiresIn, 900);
    const claims = tokens.verify(token);
    assert.equal(claims.sub, subject.id);
    assert.equal(claims.role, 'teacher');
    assert.equal(claims.ver, 3);
    assert.equal(claims.sid, subject.sessionId);
    assert.equal(claims.exp - (claims.iat as number), 900);
  });

  it('checks iss and aud when configured', async () => {
    const tokens = createTokenService({ keys, ttlSeconds: 900, issuer: 'https://auth.example', audience: 'school' });
    const otherIssuer = createTokenService({ keys, ttlSeconds: 900, issuer: 'https://evil.example', audience: 'school' });
    const otherAudience = createTokenService({ keys, ttlSeconds: 900, issuer: 'https://auth.example', audience: 'shop' });
    const unscoped = createTokenService({ keys, ttlSeconds: 900 });
    for (const service of [otherIssuer, otherAudience, unscoped]) {
      const { token } = await service.issue(subject);
      assert.throws(() => tokens.verify(token), { code: 'INVALID_TOKEN' });
    }
    assert.equal(tokens.verify((await tokens.issue(subject)).token).sub, subject.id);
  });

  it('issues tokens that jose verifies (EdDSA with its kid, and HS256), claims and header as standard', async () => {
    const signing = keys.signing as NonNullable<KeySet['signing']>;
    const eddsaTokens = createTokenService({ keys, ttlSeconds: 900, issuer: 'https://auth.example', audience: 'school' });
    const eddsaToken = (await eddsaTokens.issue(subject)).token;
    const verified = await jwtVerify(eddsaToken, signing.publicKey, { algorithms: ['EdDSA'], issuer: 'https://auth.example', audience: 'school' });
    assert.deepEqual(verified.protectedHeader, { alg: 'EdDSA', typ: 'JWT', kid: signing.kid });
    assert.equal(verified.payload.sub, subject.id);
    assert.equal(verified.payload.role, 'teacher');
    assert.equal(verified.payload.ver, 3);
    assert.equal(verified.payload.sid, subject.sessionId);
    assert.equal((verified.payload.exp as number) - (verified.payload.iat as number), 900);
    assert.match(String(verified.payload.jti), /^[0-9a-f-]{36}$/);

    const hsTokens = createTokenService({ keys: { ...keys, alg: 'HS256', signing: null }, ttlSeconds: 60 });
    const hsToken = (await hsTokens.issue({ ...subject, sessionId: undefined })).token;
    const hs = await jwtVerify(hsToken, Buffer.from(SECRET), { algorithms: ['HS256'] });
    assert.deepEqual(hs.protectedHeader, { alg: 'HS256', typ: 'JWT' });
    assert.equal(hs.payload.sid, undefined);
    assert.equal(hs.payload.iss, undefined);
    // A signature one bit off fails in jose too (the signature really covers the text).
    const [h, p, sig] = eddsaToken.split('.') as [string, string, string];
    const flipped = Buffer.from(sig, 'base64url');
    flipped[0] = (flipped[0] as number) ^ 1;
    await assert.rejects(jwtVerify(`${h}.${p}.${flipped.toString('base64url')}`, signing.publicKey));
  });

  it('accepts an HS256 token that jose signed with JWT_SECRET (interop)', async () => {
    const tokens = createTokenService({ keys, ttlSeconds: 900 });
    const token = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('0123456789abcdef01234567')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(Buffer.from(SECRET));
    assert.equal(tokens.verify(token).role, 'admin');
  });

  it('refuses a cached token once its exp has passed', async () => {
    let clock = Date.now();
    const tokens = createTokenService({ keys, ttlSeconds: 60, now: () => clock });
    const { token } = await tokens.issue(subject);
    clock += 59_000;
    assert.equal(tokens.verify(token).sub, subject.id);
    assert.equal(tokens.verify(token).sub, subject.id, 'served from the cache');
    clock += 2_000;
    assert.throws(() => tokens.verify(token), { code: 'INVALID_TOKEN' });
  });

  it('gives every token its own jti', async () => {
    const tokens = createTokenService({ keys, ttlSeconds: 60 });
    const a = tokens.verify((await tokens.issue(subject)).token);
    const b = tokens.verify((await tokens.issue(subject)).token);
    assert.notEqual(a.jti, b.jti);
  });
});
