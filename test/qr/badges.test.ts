import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject, randomBytes, sign, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateSigningJwk } from '../../src/auth/tokens/keys.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createBadgeVerifier } from '../../src/qr/badge-verifier.js';
import { bearer, buildTestApp, signUp, signUpAdmin, type TestApp } from '../helpers/app.js';
import { decodePng } from '../helpers/qr-decode.js';

type Session = Awaited<ReturnType<typeof signUp>>;
const DAY = 24 * 3600;

/** A badge built by hand from the documented format, signed with node:crypto: not the service's code. */
function handMadeBadge(
  fields: { id: string; email: string; role: string; iat: number; exp: number; kid: string },
  privateKey: KeyObject,
): string {
  const text = `USER:${fields.id}|EMAIL:${fields.email}|ROLE:${fields.role}|IAT:${fields.iat}|EXP:${fields.exp}|KID:${fields.kid}`;
  return `${text}|SIG:${sign(null, Buffer.from(text, 'utf8'), privateKey).toString('base64url')}`;
}

/** Another character of the same kind (digit, letter, base64url), so the text stays well-formed where it can. */
function sameKind(c: string): string {
  const runs = ['0123456789', 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'];
  for (const run of runs) {
    const i = run.indexOf(c);
    if (i >= 0) return run[(i + 1) % run.length] as string;
  }
  return c === '-' ? '_' : c === '_' ? '-' : 'x';
}

describe('signed QR badges', () => {
  let t: TestApp;
  let alice: Session;
  let admin: Session;
  let badge: string;

  const generate = async (token: string) => {
    const res = await t.app.inject({ method: 'POST', url: '/qr/generate', headers: bearer(token) });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as { user_id: string; qr_code_base64: string; data: string };
  };
  const verifyBadge = async (data: string) => {
    const res = await t.app.inject({ method: 'POST', url: '/qr/verify', payload: { data } });
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  };
  const signing = () => {
    assert.ok(t.keys.signing !== null);
    return t.keys.signing;
  };

  before(async () => {
    t = await buildTestApp();
    alice = await signUp(t.app);
    admin = await signUpAdmin(t);
    badge = (await generate(alice.token)).data;
  });
  after(() => t.close());

  describe('POST /qr/generate', () => {
    it('issues a badge old scanners still read: USER|EMAIL|ROLE, then IAT, EXP, KID and SIG', async () => {
      const match = /^USER:([0-9a-f]{24})\|EMAIL:(.+)\|ROLE:student\|IAT:(\d+)\|EXP:(\d+)\|KID:([^|]+)\|SIG:([\w-]{86})$/.exec(badge);
      assert.ok(match, badge);
      assert.ok(badge.startsWith(`USER:${alice.id}|EMAIL:${alice.body.email}|ROLE:student|`));
      const [, , , iat, exp, kid] = match;
      assert.equal(Number(exp) - Number(iat), 365 * DAY, 'valid 365 days by default');
      assert.ok(Math.abs(Number(iat) - Date.now() / 1000) < 60);
      assert.equal(kid, signing().kid, 'signed with the published token key');
    });

    it('stores the exact second of issue as qrIssuedAt, and the PNG decodes to the badge', async () => {
      const issued = await generate(alice.token);
      const iat = Number(/\|IAT:(\d+)\|/.exec(issued.data)?.[1]);
      const user = await t.store.findUserById(alice.id);
      assert.equal(user?.qrIssuedAt?.getTime(), iat * 1000);
      assert.equal(user?.qrCode, issued.qr_code_base64);
      assert.equal(decodePng(Buffer.from(issued.qr_code_base64, 'base64')).text, issued.data);
      badge = issued.data;
    });

    it('GET /qr/{id} and GET /qr/{id}/image give back the current badge, byte for byte', async () => {
      const issued = await generate(alice.token);
      badge = issued.data;
      const read = await t.app.inject({ url: `/qr/${alice.id}`, headers: bearer(alice.token) });
      assert.deepEqual(read.json(), issued);
      const image = await t.app.inject({ url: `/qr/${alice.id}/image?format=svg`, headers: bearer(admin.token) });
      assert.equal(image.statusCode, 200);
      const png = await t.app.inject({ url: `/qr/${alice.id}/image?size=600`, headers: bearer(alice.token) });
      assert.equal(decodePng(png.rawPayload).text, issued.data);
    });
  });

  describe('POST /qr/verify', () => {
    it('answers valid for a badge read from its PNG, with who, what role and when — no token needed', async () => {
      const issued = await generate(alice.token);
      badge = issued.data;
      const text = decodePng(Buffer.from(issued.qr_code_base64, 'base64')).text;
      const verdict = await verifyBadge(text);
      const iat = Number(/\|IAT:(\d+)\|/.exec(text)?.[1]);
      assert.deepEqual(verdict, {
        valid: true,
        user_id: alice.id,
        username: alice.body.username,
        role: 'student',
        issued_at: new Date(iat * 1000).toISOString(),
        expires_at: new Date((iat + 365 * DAY) * 1000).toISOString(),
      });
    });

    it('refuses a badge with any single byte changed (every position, two changes each)', async () => {
      // The same checks as the route, without HTTP: a few hundred variants.
      const verifier = createBadgeVerifier({ verifying: t.keys.verifying, users: t.users });
      assert.equal((await verifier.verify(badge)).valid, true);
      let checked = 0;
      for (let i = 0; i < badge.length; i++) {
        const c = badge[i] as string;
        const flipped = String.fromCharCode(c.charCodeAt(0) ^ 1);
        for (const replacement of new Set([sameKind(c), flipped])) {
          if (replacement === c) continue;
          const tampered = badge.slice(0, i) + replacement + badge.slice(i + 1);
          const verdict = await verifier.verify(tampered);
          assert.equal(verdict.valid, false, `position ${i}: ${JSON.stringify(c)} -> ${JSON.stringify(replacement)}`);
          assert.notEqual(verdict.reason, undefined);
          checked++;
        }
      }
      assert.ok(checked > 2 * 150, `${checked} variants`);
      for (const cut of [badge.slice(0, -1), `${badge}A`, `${badge}\n`, badge.replace('|SIG:', '|sig:'), ` ${badge}`]) {
        assert.equal((await verifier.verify(cut)).valid, false, JSON.stringify(cut.slice(-8)));
      }
    });

    it('says which part failed, over HTTP: a forged role is a bad signature', async () => {
      const forged = badge.replace('|ROLE:student|', '|ROLE:admin|');
      assert.deepEqual(await verifyBadge(forged), {
        valid: false,
        reason: 'bad_signature',
        user_id: null,
        username: null,
        role: null,
        issued_at: null,
        expires_at: null,
      });
      const lastSig = badge.at(-1) as string;
      const spareBits = badge.slice(0, -1) + sameKind(lastSig);
      assert.equal((await verifyBadge(spareBits)).valid, false, 'a non-canonical base64url signature');
    });

    it('refuses a badge signed by a foreign key: under our kid, and under its own', async () => {
      const { privateKey } = generateKeyPairSync('ed25519');
      const iat = Math.floor(Date.now() / 1000);
      const fields = { id: alice.id, email: alice.body.email, role: 'student', iat, exp: iat + DAY };
      const underOurKid = handMadeBadge({ ...fields, kid: signing().kid }, privateKey);
      assert.equal((await verifyBadge(underOurKid)).reason, 'bad_signature');
      const underItsOwn = handMadeBadge({ ...fields, kid: 'someone-elses-key' }, privateKey);
      assert.equal((await verifyBadge(underItsOwn)).reason, 'unknown_key');
    });

    it('accepts a badge made by hand from the documented format with our key (the format is the contract)', async () => {
      const user = await t.store.findUserById(alice.id);
      const iat = (user?.qrIssuedAt?.getTime() as number) / 1000;
      const made = handMadeBadge(
        { id: alice.id, email: alice.body.email, role: 'student', iat, exp: iat + 365 * DAY, kid: signing().kid },
        signing().privateKey,
      );
      assert.equal(made, badge, 'Ed25519 is deterministic: the same bytes as issued');
      assert.equal((await verifyBadge(made)).valid, true);
    });

    it('refuses an expired badge, and still says whose it was', async () => {
      const iat = Math.floor(Date.now() / 1000) - 400 * DAY;
      const expired = handMadeBadge(
        { id: alice.id, email: alice.body.email, role: 'student', iat, exp: iat + 365 * DAY, kid: signing().kid },
        signing().privateKey,
      );
      const verdict = await verifyBadge(expired);
      assert.equal(verdict.valid, false);
      assert.equal(verdict.reason, 'expired');
      assert.equal(verdict.user_id, alice.id);
      assert.equal(verdict.expires_at, new Date((iat + 365 * DAY) * 1000).toISOString());
    });

    it('refuses a badge superseded by a newer generate, even one issued in the same second', async () => {
      const first = (await generate(alice.token)).data;
      const second = (await generate(alice.token)).data;
      assert.notEqual(first, second);
      assert.equal((await verifyBadge(first)).reason, 'superseded');
      assert.equal((await verifyBadge(second)).valid, true);
      badge = second;
    });

    it("refuses a badge whose role changed since issue; GET then shows one stating the new role", async () => {
      const bob = await signUp(t.app);
      const issued = (await generate(bob.token)).data;
      // Read back once before the change: the badge signed for GET is kept, and must not outlive it.
      assert.equal((await t.app.inject({ url: `/qr/${bob.id}`, headers: bearer(admin.token) })).json().data, issued);
      await t.store.updateUser(bob.id, { role: 'teacher' });
      const verdict = await verifyBadge(issued);
      assert.equal(verdict.reason, 'role_changed');
      assert.equal(verdict.role, 'student', 'the role the badge states');
      const current = (await t.app.inject({ url: `/qr/${bob.id}`, headers: bearer(admin.token) })).json();
      assert.match(current.data, /\|ROLE:teacher\|/);
      assert.equal(current.data.split('|IAT:')[1].split('|')[0], issued.split('|IAT:')[1]?.split('|')[0], 'same issue time');
      assert.equal((await verifyBadge(current.data)).valid, true);
    });

    it('refuses a badge whose email changed since issue', async () => {
      const carol = await signUp(t.app);
      const issued = (await generate(carol.token)).data;
      await t.store.updateUser(carol.id, { email: `new.${carol.body.email}` });
      assert.equal((await verifyBadge(issued)).reason, 'email_changed');
    });

    it("refuses a disabled user's badge", async () => {
      const dave = await signUp(t.app);
      const issued = (await generate(dave.token)).data;
      await t.store.updateUser(dave.id, { disabled: true });
      const verdict = await verifyBadge(issued);
      assert.equal(verdict.valid, false);
      assert.equal(verdict.reason, 'user_disabled');
    });

    it("refuses a deleted user's badge", async () => {
      const erin = await signUp(t.app);
      const issued = (await generate(erin.token)).data;
      const deleted = await t.app.inject({ method: 'DELETE', url: `/users/${erin.id}`, headers: bearer(erin.token) });
      assert.equal(deleted.statusCode, 200, deleted.body);
      const verdict = await verifyBadge(issued);
      assert.equal(verdict.reason, 'user_not_found');
      assert.equal(verdict.username, null);
    });

    it("calls the old plain payload 'unsigned' and reveals nothing from it", async () => {
      const verdict = await verifyBadge(`USER:${alice.id}|EMAIL:${alice.body.email}|ROLE:admin`);
      assert.deepEqual(verdict, {
        valid: false,
        reason: 'unsigned',
        user_id: null,
        username: null,
        role: null,
        issued_at: null,
        expires_at: null,
      });
    });

    it("answers 200 'malformed' for text that is no badge, and 422 for no text at all", async () => {
      for (const data of ['hello', 'USER:', `USER:${alice.id}|EMAIL:x|ROLE:student|IAT:1|EXP:2|KID:k|SIG:short`, '\u0000'.repeat(10)]) {
        assert.equal((await verifyBadge(data)).reason, 'malformed', JSON.stringify(data));
      }
      for (const payload of [{}, { data: '' }, { data: 'x'.repeat(4097) }, { data: 42 }]) {
        const res = await t.app.inject({ method: 'POST', url: '/qr/verify', payload });
        assert.equal(res.statusCode, 422, JSON.stringify(payload));
        assert.ok(Array.isArray(res.json().detail));
      }
    });
  });

  describe('offline verification', () => {
    it('verifies a badge with node:crypto and the keys from /.well-known/jwks.json alone', async () => {
      const jwks = (await t.app.inject({ url: '/.well-known/jwks.json' })).json() as { keys: (JsonWebKey & { kid: string })[] };
      // From here on nothing calls the service: what another service or a door would do.
      const checkOffline = (data: string, now = Date.now()) => {
        const at = data.lastIndexOf('|SIG:');
        if (at < 0) return false;
        const signed = data.slice(0, at);
        const signature = Buffer.from(data.slice(at + 5), 'base64url');
        const [, exp, kid] = /\|EXP:(\d+)\|KID:([^|]+)$/.exec(signed) ?? [];
        const jwk = jwks.keys.find((k) => k.kid === kid);
        if (jwk === undefined || signature.toString('base64url') !== data.slice(at + 5)) return false;
        const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
        return verify(null, Buffer.from(signed, 'utf8'), publicKey, signature) && Number(exp) * 1000 > now;
      };
      assert.equal(checkOffline(badge), true);
      assert.equal(checkOffline(badge.replace('ROLE:student', 'ROLE:teacher')), false);
      assert.equal(checkOffline(badge, Date.now() + 366 * DAY * 1000), false, 'expired by then');
      const { privateKey } = generateKeyPairSync('ed25519');
      const iat = Math.floor(Date.now() / 1000);
      const kid = signing().kid;
      assert.equal(checkOffline(handMadeBadge({ id: alice.id, email: 'x@example.com', role: 'admin', iat, exp: iat + DAY, kid }, privateKey)), false);
    });
  });
});

describe('QR_SIGNED=false and HS256', () => {
  it('QR_SIGNED=false keeps the old plain payload, which /qr/verify calls unsigned', async () => {
    const t = await buildTestApp({ QR_SIGNED: 'false' });
    try {
      const alice = await signUp(t.app);
      const res = await t.app.inject({ method: 'POST', url: '/qr/generate', headers: bearer(alice.token) });
      assert.equal(res.json().data, `USER:${alice.id}|EMAIL:${alice.body.email}|ROLE:student`);
      assert.equal((await t.store.findUserById(alice.id))?.qrIssuedAt, null);
      const verdict = await t.app.inject({ method: 'POST', url: '/qr/verify', payload: { data: res.json().data } });
      assert.equal(verdict.json().reason, 'unsigned');
    } finally {
      await t.close();
    }
  });

  it('signs nothing under HS256 (no public key to check with), and refuses QR_SIGNED=true there', async () => {
    const secret = randomBytes(48).toString('base64');
    const t = await buildTestApp({ JWT_SECRET: secret });
    try {
      const alice = await signUp(t.app);
      const res = await t.app.inject({ method: 'POST', url: '/qr/generate', headers: bearer(alice.token) });
      assert.equal(res.json().data, `USER:${alice.id}|EMAIL:${alice.body.email}|ROLE:student`);
    } finally {
      await t.close();
    }
    assert.throws(
      () => loadConfig({ NODE_ENV: 'test', JWT_SECRET: secret, QR_SIGNED: 'true' }),
      (error: unknown) => error instanceof ConfigError && error.problems.some((p) => p.startsWith('QR_SIGNED=true')),
    );
  });

  it('survives key rotation while the old key stays configured; GET then re-signs with the new key', async () => {
    const [oldKey, newKey] = [await generateSigningJwk(), await generateSigningJwk()];
    // One database, seen by the service before and after the rotation.
    const folder = mkdtempSync(path.join(os.tmpdir(), 'authqr-rotation-'));
    const database = { DATABASE_URL: `sqlite:${path.join(folder, 'rotation.db')}` };
    const original = await buildTestApp({ ...database, JWT_SIGNING_KEYS: JSON.stringify([oldKey]) });
    const alice = await signUp(original.app);
    const issued = (await original.app.inject({ method: 'POST', url: '/qr/generate', headers: bearer(alice.token) })).json().data as string;
    await original.close();
    const rotated = await buildTestApp({ ...database, JWT_SIGNING_KEYS: JSON.stringify([newKey, oldKey]) });
    const retired = await buildTestApp({ ...database, JWT_SIGNING_KEYS: JSON.stringify([newKey]) });
    try {
      const verifyOn = async (t: TestApp, data: string) =>
        (await t.app.inject({ method: 'POST', url: '/qr/verify', payload: { data } })).json();
      assert.equal((await verifyOn(rotated, issued)).valid, true, 'the old key still verifies');
      const current = (await rotated.app.inject({ url: `/qr/${alice.id}`, headers: bearer(alice.token) })).json().data as string;
      assert.ok(current.includes(`|KID:${newKey.kid}|`));
      assert.equal(current.split('|IAT:')[1]?.split('|')[0], issued.split('|IAT:')[1]?.split('|')[0]);
      assert.equal((await verifyOn(rotated, current)).valid, true);
      assert.equal((await verifyOn(retired, issued)).reason, 'unknown_key', 'once the old key is dropped');
      assert.equal((await verifyOn(retired, current)).valid, true);
    } finally {
      await rotated.close();
      await retired.close();
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('QR_BADGE_TTL_DAYS sets the validity', async () => {
    const t = await buildTestApp({ QR_BADGE_TTL_DAYS: '30' });
    try {
      const alice = await signUp(t.app);
      const data = (await t.app.inject({ method: 'POST', url: '/qr/generate', headers: bearer(alice.token) })).json().data as string;
      const [, iat, exp] = /\|IAT:(\d+)\|EXP:(\d+)\|/.exec(data) ?? [];
      assert.equal(Number(exp) - Number(iat), 30 * DAY);
    } finally {
      await t.close();
    }
  });
});
