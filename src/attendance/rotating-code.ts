/**
 * The projector's rotating code, TOTP-like: an HMAC of the server's time step under the session's
 * secret. Nothing is stored per code, so a refreshed or second projector tab shows the same code,
 * and the projector never computes it (its clock does not matter: the server sends it).
 *
 * A code is accepted in its own step and the next one only: a screenshot or a forwarded link stops
 * working at most two periods after the code first appeared.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Characters of base64url kept: 72 bits, far beyond guessing within a 20-second window. */
const CODE_LENGTH = 12;
/** How far back an old code is still recognised as "expired" rather than "wrong" (a nicer answer). */
const EXPIRED_LOOKBACK_STEPS = 60;

export function stepAt(nowMs: number, periodSeconds: number): number {
  return Math.floor(nowMs / (periodSeconds * 1000));
}

/**
 * Codes already computed, by secret and step: a class's burst checks the same one or two codes
 * hundreds of times in a period (an HMAC and a key made from hex each time was 5 % of a check-in).
 * Bounded; emptied when full.
 */
const known = new Map<string, string>();
const KNOWN_MAX = 4096;

export function codeFor(secretHex: string, step: number): string {
  const key = `${step}:${secretHex}`;
  let code = known.get(key);
  if (code === undefined) {
    code = createHmac('sha256', Buffer.from(secretHex, 'hex')).update(`attendance-code:${step}`).digest('base64url').slice(0, CODE_LENGTH);
    if (known.size >= KNOWN_MAX) known.clear();
    known.set(key, code);
  }
  return code;
}

const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export type CodeCheck = 'valid' | 'expired' | 'invalid';

/** Accepted at step n (its own) and n+1; recognised as expired for a while after; else invalid. */
export function checkCode(secretHex: string, code: string, nowMs: number, periodSeconds: number): CodeCheck {
  if (code.length !== CODE_LENGTH) return 'invalid';
  const step = stepAt(nowMs, periodSeconds);
  if (same(code, codeFor(secretHex, step)) || same(code, codeFor(secretHex, step - 1))) return 'valid';
  for (let back = 2; back <= EXPIRED_LOOKBACK_STEPS; back += 1) {
    if (same(code, codeFor(secretHex, step - back))) return 'expired';
  }
  return 'invalid';
}

/** The current code and when it changes (the projector's SSE says so). */
export function currentCode(secretHex: string, nowMs: number, periodSeconds: number): { code: string; step: number; changesAt: Date } {
  const step = stepAt(nowMs, periodSeconds);
  return { code: codeFor(secretHex, step), step, changesAt: new Date((step + 1) * periodSeconds * 1000) };
}
