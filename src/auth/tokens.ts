/**
 * Access tokens: HS256 JWTs with sub, role, iat, exp and jti, the old service's format (its
 * clients send them back unchanged). Signing goes through jose; verification, on every
 * authenticated request, is Node's synchronous HMAC with a strict parser: the header must say
 * exactly HS256 (no "none", no algorithm confusion), the signature is compared in constant time,
 * and every claim is type-checked before anything trusts it.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { SignJWT } from 'jose';
import { errors } from '../errors.js';
import { ROLES, type Role } from '../store/store.js';

export interface AccessClaims {
  sub: string;
  role: Role;
  iat: number;
  exp: number;
  jti: string;
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
}

export interface TokenService {
  issue(subject: { id: string; role: Role }): Promise<IssuedToken>;
  /** Returns the claims of a valid token; throws the 401 "invalid token" error otherwise. */
  verify(token: string): AccessClaims;
}

const MAX_TOKEN_LENGTH = 4096;
const SEGMENT_RE = /^[A-Za-z0-9_-]+$/;
const SUB_RE = /^[0-9a-f]{24}$/;
/** Tolerated clock difference for iat, in seconds. */
const LEEWAY = 30;

function decodeJson(segment: string): unknown {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
}

export function createTokenService(options: {
  secret: Uint8Array;
  ttlSeconds: number;
  now?: () => number;
}): TokenService {
  const { secret, ttlSeconds } = options;
  const nowSeconds = () => Math.floor((options.now?.() ?? Date.now()) / 1000);

  return {
    async issue(subject) {
      const iat = nowSeconds();
      const token = await new SignJWT({ role: subject.role })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(subject.id)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ttlSeconds)
        .setJti(randomUUID())
        .sign(secret);
      return { token, expiresIn: ttlSeconds };
    },

    verify(token) {
      const invalid = errors.invalidToken;
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
      if (typeof header !== 'object' || header === null) throw invalid();
      const hdr = header as Record<string, unknown>;
      if (hdr.alg !== 'HS256' || 'crit' in hdr || (hdr.typ !== undefined && hdr.typ !== 'JWT')) throw invalid();

      const expected = createHmac('sha256', secret).update(`${h}.${p}`).digest();
      const given = Buffer.from(s, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();

      if (typeof payload !== 'object' || payload === null) throw invalid();
      const c = payload as Record<string, unknown>;
      const now = nowSeconds();
      if (
        typeof c.sub !== 'string' ||
        !SUB_RE.test(c.sub) ||
        typeof c.role !== 'string' ||
        !(ROLES as readonly string[]).includes(c.role) ||
        typeof c.exp !== 'number' ||
        typeof c.iat !== 'number' ||
        typeof c.jti !== 'string' ||
        c.exp <= now ||
        c.iat > now + LEEWAY
      ) {
        throw invalid();
      }
      return { sub: c.sub, role: c.role as Role, iat: c.iat, exp: c.exp, jti: c.jti };
    },
  };
}
