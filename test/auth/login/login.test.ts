import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { createPasswordHasher } from '../../../src/auth/passwords/passwords.js';
import type { Role } from '../../../src/store/store.js';
import { bearer, buildTestApp, newUserBody, register, type TestApp } from '../../helpers/app.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/legacy', import.meta.url));

interface LegacyDoc {
  _id: { $oid: string };
  username: string;
  email: string;
  password: string;
  full_name: string | null;
  role: Role;
  created_at: { $date: string };
  qr_code: string | null;
}

/** A document of the old service's export, stored as the import would store it. */
function insertLegacy(t: TestApp, d: LegacyDoc) {
  return t.store.insertUser({
    id: d._id.$oid,
    username: d.username,
    email: d.email,
    passwordHash: d.password,
    fullName: d.full_name,
    role: d.role,
    createdAt: new Date(d.created_at.$date),
    qrCode: d.qr_code,
  });
}

function loginRequest(t: TestApp, email: string, password: string) {
  return t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
}

describe('POST /auth/login', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('returns an EdDSA bearer token with sub, role, iat, exp, jti, sid and ver, and a refresh token', async () => {
    const body = newUserBody();
    const id = (await register(t.app, body)).json().id;
    const res = await loginRequest(t, body.email, body.password);
    assert.equal(res.statusCode, 200);
    const answer = res.json();
    assert.equal(answer.token_type, 'bearer');
    assert.equal(answer.expires_in, 900, '15 minutes by default');
    assert.match(answer.refresh_token, /^[A-Za-z0-9_-]{43}$/);
    // A stock JOSE library verifies it with the published keys: no shared secret needed.
    const jwks = createLocalJWKSet((await t.app.inject({ url: '/.well-known/jwks.json' })).json());
    const { payload, protectedHeader } = await jwtVerify(answer.access_token, jwks, { algorithms: ['EdDSA'] });
    assert.equal(protectedHeader.alg, 'EdDSA');
    assert.equal(typeof protectedHeader.kid, 'string');
    assert.equal(payload.ver, 0);
    assert.match(String(payload.sid), /^[0-9a-f]{24}$/);
    assert.equal(payload.sub, id);
    assert.equal(payload.role, 'student');
    assert.equal(typeof payload.jti, 'string');
    assert.equal((payload.exp as number) - (payload.iat as number), t.config.jwt.accessTokenTtlSeconds);
    const me = await t.app.inject({ url: '/users/me', headers: bearer(answer.access_token) });
    assert.equal(me.json().id, id);
  });

  it('finds the account whatever the case of the email', async () => {
    const body = newUserBody({ email: 'Case.Person@Example.COM' });
    await register(t.app, body);
    assert.equal((await loginRequest(t, 'case.person@example.com', body.password)).statusCode, 200);
    assert.equal((await loginRequest(t, 'CASE.PERSON@EXAMPLE.COM', body.password)).statusCode, 200);
  });

  it('gives the same 401 for an unknown email and a wrong password (no enumeration)', async () => {
    const body = newUserBody();
    await register(t.app, body);
    const wrong = await loginRequest(t, body.email, 'wrong-password');
    const unknown = await loginRequest(t, `nobody-${body.email}`, 'wrong-password');
    assert.equal(wrong.statusCode, 401);
    assert.equal(unknown.statusCode, 401);
    assert.deepEqual(wrong.json(), { detail: 'Incorrect email or password', code: 'INVALID_CREDENTIALS' });
    assert.deepEqual(unknown.json(), wrong.json());
    assert.equal(unknown.headers['www-authenticate'], wrong.headers['www-authenticate']);
  });

  it('answers a password over 72 bytes with 401, not 500 (defect 3)', async () => {
    const body = newUserBody();
    await register(t.app, body);
    const res = await loginRequest(t, body.email, 'ü'.repeat(100));
    assert.equal(res.statusCode, 401);
  });

  it('answers a password over 1024 bytes with 401 or 422, never 500', async () => {
    const body = newUserBody();
    await register(t.app, body);
    const res = await loginRequest(t, body.email, '漢'.repeat(1000));
    assert.ok([401, 422].includes(res.statusCode), res.body);
  });

  it('refuses a form-encoded body (the old API takes JSON) with 415', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'email=a%40b.c&password=x',
    });
    assert.equal(res.statusCode, 415);
  });

  it('answers a missing password with 422 in the FastAPI shape', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'a@example.com' } });
    assert.equal(res.statusCode, 422);
    assert.deepEqual(res.json(), { detail: [{ loc: ['body', 'password'], msg: 'Field required', type: 'missing' }] });
  });
});

describe('users imported from the old service (bcrypt hashes)', () => {
  let t: TestApp;
  const docs: LegacyDoc[] = readFileSync(path.join(FIXTURES, 'legacy-users.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  const passwords: Record<string, string> = JSON.parse(readFileSync(path.join(FIXTURES, 'legacy-passwords.json'), 'utf8'));

  before(async () => {
    t = await buildTestApp();
    for (const d of docs) await insertLegacy(t, d);
  });
  after(() => t.close());

  const pw = (email: string) => passwords[email] as string;

  it('logs every fixture user in with the old password, and keeps their id', async () => {
    for (const d of docs) {
      const res = await loginRequest(t, d.email, pw(d.email));
      assert.equal(res.statusCode, 200, `${d.email}: ${res.body}`);
      const me = await t.app.inject({ url: '/users/me', headers: bearer(res.json().access_token) });
      assert.equal(me.json().id, d._id.$oid);
      assert.equal(me.json().role, d.role);
    }
  });

  it('accepts a lower-cased email for Bob.Builder@Example.com', async () => {
    const res = await loginRequest(t, 'bob.builder@example.com', pw('Bob.Builder@Example.com'));
    assert.equal(res.statusCode, 200);
  });

  it('keeps the old usernames as they were (Bob, with its capital), and signs them in by username in any case', async () => {
    assert.equal((await t.store.findUserByEmail('bob.builder@example.com'))?.username, 'Bob');
    for (const username of ['Bob', 'bob', 'BOB']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ username, password: pw('Bob.Builder@Example.com') }).toString(),
      });
      assert.equal(res.statusCode, 200, `${username}: ${res.body}`);
    }
  });

  it('signs in a user whose hash is $2x$ (crypt_blowfish), checked as $2a$, and re-hashes it', async () => {
    const { hashSync } = await import('@node-rs/bcrypt');
    const password = 'ascii-password-2x';
    const user = await t.store.insertUser({
      id: '6916d8000000000000000fff',
      username: 'old2x',
      email: 'old2x@example.com',
      passwordHash: `$2x$${hashSync(password, 4).slice(4)}`,
      fullName: null,
      role: 'student',
      createdAt: new Date('2024-01-01T00:00:00Z'),
    });
    assert.equal((await loginRequest(t, user.email, 'not-it')).statusCode, 401);
    assert.equal((await loginRequest(t, user.email, password)).statusCode, 200);
    assert.match((await t.store.findUserById(user.id))?.passwordHash ?? '', /^\$argon2id\$/);
  });

  it('lets carol in with a 6-character password from before the 8-character minimum', async () => {
    assert.equal(pw('carol@example.com').length, 6);
    assert.equal((await loginRequest(t, 'carol@example.com', pw('carol@example.com'))).statusCode, 200);
  });

  it('re-hashes to argon2id on login, after which every byte of the password counts (dave, 80 characters)', async () => {
    const dave = pw('dave@example.com');
    assert.equal(dave.length, 80);
    // Logged in above, so the bcrypt hash is gone...
    const stored = await t.store.findUserByEmail('dave@example.com');
    assert.ok(stored?.passwordHash.startsWith('$argon2id$'), stored?.passwordHash);
    // ...and a password sharing only the first 72 bytes, which bcrypt accepted, is refused now.
    assert.equal((await loginRequest(t, 'dave@example.com', `${dave.slice(0, 72)}bbbbbbbb`)).statusCode, 401);
    assert.equal((await loginRequest(t, 'dave@example.com', dave)).statusCode, 200);
  });

  it('lets erin in with multi-byte characters, before and after the re-hash', async () => {
    const erin = pw('erin@example.com');
    assert.ok(Buffer.byteLength(erin) > erin.length);
    assert.equal((await loginRequest(t, 'erin@example.com', erin)).statusCode, 200);
    assert.equal((await loginRequest(t, 'erin@example.com', erin.slice(1))).statusCode, 401);
  });

  it('refuses a wrong password for a bcrypt user and leaves the hash alone', async () => {
    const fresh = await buildTestApp();
    try {
      const d = docs[0] as LegacyDoc;
      await insertLegacy(fresh, d);
      assert.equal((await loginRequest(fresh, d.email, 'not-the-password')).statusCode, 401);
      assert.equal((await fresh.store.findUserById(d._id.$oid))?.passwordHash, d.password);
    } finally {
      await fresh.close();
    }
  });
});

/**
 * Runs `work` and says whether the event loop turned (a setImmediate ran) before it settled. A
 * synchronous hash (the old service's bcrypt) settles before the loop can turn, every time. One
 * done off the loop lets it turn, unless this process was descheduled for the whole hash (seen
 * under CI load with a 10 ms argon2 hash): up to three tries tell the two apart.
 */
async function loopTurnsDuring<T>(work: () => Promise<T>): Promise<{ turned: boolean; result: T }> {
  let last: { turned: boolean; result: T } | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    let loopTurned = false;
    const settled = work().then((result) => ({ result, turned: loopTurned }));
    setImmediate(() => {
      loopTurned = true;
    });
    last = await settled;
    if (last.turned) return last;
  }
  return last as { turned: boolean; result: T };
}

describe('password hashing runs off the event loop (defect 5)', () => {
  it('lets the event loop turn while a hash is computed', async () => {
    const hasher = createPasswordHasher();
    const { turned, result } = await loopTurnsDuring(() => hasher.hash('a password of some length'));
    assert.equal(turned, true);
    assert.ok(result.startsWith('$argon2id$'));
  });

  it('lets the event loop turn while a legacy bcrypt hash is verified', async () => {
    const hasher = createPasswordHasher();
    const { turned, result } = await loopTurnsDuring(() =>
      hasher.verify('$2b$12$ru0CY/uMRfPgiKR16ytrGOeFR/MJbn9LykWuiu5/9/7D8FnaRG69m', 'alice-pass-01'),
    );
    assert.equal(turned, true);
    assert.deepEqual(result, { ok: true, needsRehash: true });
  });
});
