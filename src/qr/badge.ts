/**
 * Signed QR badges: the old service's text, so its scanners still read it, then an issue time, an
 * expiry, the key id and an Ed25519 signature:
 *
 *   USER:<id>|EMAIL:<email>|ROLE:<role>|IAT:<unix s>|EXP:<unix s>|KID:<kid>|SIG:<base64url>
 *
 * The signature covers every byte (UTF-8) before "|SIG:", so anyone holding the public key from
 * /.well-known/jwks.json can check a badge offline. The key is the token key; the two uses cannot
 * be confused: a badge's signed text starts with "USER:", a JWT's signing input with base64url
 * ("eyJ"), so neither signature can ever pass for the other.
 */
import { type KeyObject, sign, verify } from 'node:crypto';
import { ROLES, type Role } from '../store/store.js';

export interface BadgeClaims {
  userId: string;
  email: string;
  role: Role;
  /** Unix seconds. */
  issuedAt: number;
  expiresAt: number;
  kid: string;
}

export type ParsedPayload =
  | { kind: 'signed'; claims: BadgeClaims; signedText: string; signature: Buffer }
  /** The old plain USER:|EMAIL:|ROLE: text: nothing vouches for it. */
  | { kind: 'unsigned' }
  | { kind: 'malformed' };

const SIGNATURE_SEPARATOR = '|SIG:';
/** A kid goes between separators, so it must not contain one (nor spaces that scanners mangle). */
const KID_RE = /^[^|\s]{1,128}$/;
const ROLE_GROUP = ROLES.join('|');
// The email is the only free-form field; roles contain no '|', so the last "|ROLE:" ends it.
const SIGNED_RE = new RegExp(
  `^USER:([0-9a-f]{24})\\|EMAIL:([^\\r\\n]+)\\|ROLE:(${ROLE_GROUP})\\|IAT:(\\d{1,12})\\|EXP:(\\d{1,12})\\|KID:([^|\\s]{1,128})\\|SIG:([A-Za-z0-9_-]{86})$`,
);
const LEGACY_RE = /^USER:[0-9a-fA-F]{24}\|EMAIL:[^\r\n]*\|ROLE:[A-Za-z]+$/;

export function isUsableKid(kid: string): boolean {
  return KID_RE.test(kid);
}

/** The badge text for these claims, signed with `privateKey` (deterministic: Ed25519). */
export function signBadge(claims: BadgeClaims, privateKey: KeyObject): string {
  if (!isUsableKid(claims.kid)) throw new Error(`key id ${JSON.stringify(claims.kid)} cannot go into a QR badge`);
  const text =
    `USER:${claims.userId}|EMAIL:${claims.email}|ROLE:${claims.role}` +
    `|IAT:${claims.issuedAt}|EXP:${claims.expiresAt}|KID:${claims.kid}`;
  const signature = sign(null, Buffer.from(text, 'utf8'), privateKey);
  return `${text}${SIGNATURE_SEPARATOR}${signature.toString('base64url')}`;
}

export function parseBadge(text: string): ParsedPayload {
  const match = SIGNED_RE.exec(text);
  if (match === null) return LEGACY_RE.test(text) ? { kind: 'unsigned' } : { kind: 'malformed' };
  const [, userId, email, role, iat, exp, kid, sig] = match as unknown as string[];
  const signature = Buffer.from(sig as string, 'base64url');
  // 86 base64url characters carry 516 bits for 512: a last character differing only in the spare
  // bits would decode to the same signature. Only the canonical spelling is accepted, so that
  // changing any byte of a badge makes it invalid.
  if (signature.length !== 64 || signature.toString('base64url') !== sig) return { kind: 'malformed' };
  return {
    kind: 'signed',
    claims: {
      userId: userId as string,
      email: email as string,
      role: role as Role,
      issuedAt: Number(iat),
      expiresAt: Number(exp),
      kid: kid as string,
    },
    signedText: text.slice(0, text.length - SIGNATURE_SEPARATOR.length - (sig as string).length),
    signature,
  };
}

export function signatureMatches(parsed: Extract<ParsedPayload, { kind: 'signed' }>, publicKey: KeyObject): boolean {
  try {
    return verify(null, Buffer.from(parsed.signedText, 'utf8'), publicKey, parsed.signature);
  } catch {
    // A key of another type under a known kid: not a signature this service made.
    return false;
  }
}
