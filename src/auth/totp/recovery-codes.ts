/**
 * Recovery codes: the way back in when the authenticator is lost. Ten random codes of 12
 * characters from Crockford's base32 (no I, L, O, U: nothing to misread), shown once as
 * `xxxx-xxxx-xxxx` and stored only as hashes that include the user id, so a code is bound to
 * its account and never works for another one.
 */
import { randomInt } from 'node:crypto';
import { hashToken } from '../sessions/session-service.js';

export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const LENGTH = 12;
const GROUP = 4;

/** A fresh code, e.g. `7kq2-m9xd-c4rt` (60 random bits). */
export function generateRecoveryCode(): string {
  let code = '';
  for (let i = 0; i < LENGTH; i += 1) code += ALPHABET[randomInt(ALPHABET.length)];
  const groups: string[] = [];
  for (let i = 0; i < LENGTH; i += GROUP) groups.push(code.slice(i, i + GROUP));
  return groups.join('-');
}

/**
 * The canonical form of what someone typed: case, spaces and dashes do not matter, and the
 * letters people confuse with digits (o, i, l) read as those digits. Null when it cannot be a
 * recovery code at all.
 */
export function normalizeRecoveryCode(typed: string): string | null {
  const compact = typed
    .toLowerCase()
    .replace(/[\s-]/g, '')
    .replace(/o/g, '0')
    .replace(/[il]/g, '1');
  if (compact.length !== LENGTH || [...compact].some((c) => !ALPHABET.includes(c))) return null;
  return compact;
}

/** What is stored: the user id is part of the hash, so equal codes of two users never collide. */
export function recoveryCodeHash(userId: string, normalizedCode: string): string {
  return hashToken(`${userId}:${normalizedCode}`);
}
