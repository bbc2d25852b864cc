/**
 * Access tokens: JWTs with sub, role, iat, exp, jti, plus sid (the session) and ver (the user's
 * token version, see User.tokenVersion), and iss/aud when configured. Signed with EdDSA (or HS256,
 * see keys.ts) by Node's synchronous crypto: through jose (WebCrypto: the key converted, promises,
 * a thread-pool job) a signature cost ~1 ms of the event loop, a third of a login's work there
 * (issue 17 part 5); crypto.sign with the KeyObject costs ~0.05 ms. The tests check every token
 * with jose's own verifier.
 *
 * Verification runs on every authenticated request, so it is Node's synchronous crypto with a
 * strict parser: the header's alg must be EdDSA (with a known kid) or HS256 (with a configured
 * secret) — never "none", never a confusion between them — the signature is checked in constant
 * time, and every claim is type-checked before anything trusts it. A verified token's claims are
 * cached (Ed25519 verification costs ~60 µs); expiry is checked on every use all the same, and
 * revocation is the caller's check of `ver` against the stored user.
 */
import { createHmac, randomUUID, sign as signWithKey, timingSafeEqual, verify as verifySignature } from 'node:crypto';
import { errors } from '../../errors.js';
import { ROLES, type Role } from '../../store/store.js';
import type { KeySet } from './keys.js';

export interface AccessClaims {
  sub: string;
  role: Role;
  exp: number;
  /** Missing only in tokens the old service signed (sub, role, exp). */
  iat?: number;
  jti?: string;
  sid?: string;
  /** The token version the token was issued under; old tokens count as 0. */
  ver: number;
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
}

export interface TokenSubject {
  id: string;
  role: Role;
  tokenVersion: number;
  sessionId?: string;
}

export interface TokenService {
  issue(subject: TokenSubject): Promise<IssuedToken>;
  /** Returns the claims of a valid token; throws the 401 "invalid token" error otherwise. */
  verify(token: string): AccessClaims;
}

export interface TokenOptions {
  keys: KeySet;
  ttlSeconds: number;
  issuer?: string | null;
  audience?: string | null;
  now?: () => number;
  /** Verified tokens remembered (by their full text); 0 turns the cache off. */
  cacheSize?: number;
}

const MAX_TOKEN_LENGTH = 4096;
const SEGMENT_RE = /^[A-Za-z0-9_-]+$/;
const SUB_RE = /^[0-9a-f]{24}$/;
/** Tolerated clock difference for iat and nbf, in seconds. */
const LEEWAY = 30;

function encodeJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function decodeJson(segment: string): unknown {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
}

const optional = (value: unknown, type: 'string' | 'number') => value === undefined || typeof value === type;

export function createTokenService(options: TokenOptions): TokenService {
  const { keys, ttlSeconds } = options;
  const issuer = options.issuer ?? null;
  const audience = options.audience ?? null;
  const nowSeconds = () => Math.floor((options.now?.() ?? Date.now()) / 1000);
  const cacheSize = options.cacheSize ?? 10_000;
  const cache = new Map<string, AccessClaims>();

  function signatureValid(header: Record<string, unknown>, signingInput: string, signature: Buffer): boolean {
    if (header.alg === 'EdDSA') {
      const key = typeof header.kid === 'string' ? keys.verifying.get(header.kid) : undefined;
      return key !== undefined && verifySignature(null, Buffer.from(signingInput), key.publicKey, signature);
    }
    if (header.alg === 'HS256' && keys.hmacSecret !== null) {
      const expected = createHmac('sha256', keys.hmacSecret).update(signingInput).digest();
      return signature.length === expected.length && timingSafeEqual(signature, expected);
    }
    return false;
  }

  function checkClaims(c: Record<string, unknown>, now: number): AccessClaims {
    const invalid = errors.invalidToken;
    if (
      typeof c.sub !== 'string' ||
      !SUB_RE.test(c.sub) ||
      typeof c.role !== 'string' ||
      !(ROLES as readonly string[]).includes(c.role) ||
      typeof c.exp !== 'number' ||
      c.exp <= now ||
      !optional(c.iat, 'number') ||
      (typeof c.iat === 'number' && c.iat > now + LEEWAY) ||
      !optional(c.nbf, 'number') ||
      (typeof c.nbf === 'number' && c.nbf > now + LEEWAY) ||
      !optional(c.jti, 'string') ||
      !optional(c.sid, 'string') ||
      !(c.ver === undefined || (Number.isInteger(c.ver) && (c.ver as number) >= 0))
    ) {
      throw invalid();
    }
    if (issuer !== null && c.iss !== issuer) throw invalid();
    if (audience !== null && !(c.aud === audience || (Array.isArray(c.aud) && c.aud.includes(audience)))) {
      throw invalid();
    }
    return {
      sub: c.sub,
      role: c.role as Role,
      exp: c.exp,
      iat: c.iat as number | undefined,
      jti: c.jti as string | undefined,
      sid: c.sid as string | undefined,
      ver: (c.ver as number | undefined) ?? 0,
    };
  }

  return {
    async issue(subject) {
      const iat = nowSeconds();
      const claims = {
        role: subject.role,
        ver: subject.tokenVersion,
        ...(subject.sessionId ? { sid: subject.sessionId } : {}),
        sub: subject.id,
        iat,
        exp: iat + ttlSeconds,
        jti: randomUUID(),
        ...(issuer !== null ? { iss: issuer } : {}),
        ...(audience !== null ? { aud: audience } : {}),
      };
      const signing = keys.alg === 'EdDSA' ? keys.signing : null;
      const header = signing !== null ? { alg: 'EdDSA', typ: 'JWT', kid: signing.kid } : { alg: 'HS256', typ: 'JWT' };
      const input = `${encodeJson(header)}.${encodeJson(claims)}`;
      const signature =
        signing !== null
          ? signWithKey(null, Buffer.from(input), signing.privateKey)
          : createHmac('sha256', keys.hmacSecret as Buffer).update(input).digest();
      return { token: `${input}.${signature.toString('base64url')}`, expiresIn: ttlSeconds };
    },

    verify(token) {
      const invalid = errors.invalidToken;
      const now = nowSeconds();
      const cached = cache.get(token);
      if (cached !== undefined) {
        if (cached.exp <= now) {
          cache.delete(token);
          throw invalid();
        }
        return cached;
      }
      if (token.length > MAX_TOKEN_LENGTH) throw invalid();
      const parts = token.split('.');
      if (parts.length !== 3) throw invalid();
      const [h, p, s] = parts as [string, string, string];
      if (!SEGMENT_RE.test(h) || !SEGMENT_RE.test(p) || !SEGMENT_RE.test(s)) throw invalid();

      let header: unknown;
      let payload: unknown;
      try {
        header = decodeJson(h);
        payload = decodeJson(p);
      } catch {
        throw invalid();
      }
      if (typeof header !== 'object' || header === null || Array.isArray(header)) throw invalid();
      const hdr = header as Record<string, unknown>;
      if ('crit' in hdr || (hdr.typ !== undefined && hdr.typ !== 'JWT')) throw invalid();
      if (!signatureValid(hdr, `${h}.${p}`, Buffer.from(s, 'base64url'))) throw invalid();
      if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw invalid();

      const claims = checkClaims(payload as Record<string, unknown>, now);
      if (cacheSize > 0) {
        if (cache.size >= cacheSize) cache.delete(cache.keys().next().value as string);
        cache.set(token, claims);
      }
      return claims;
    },
  };
}
