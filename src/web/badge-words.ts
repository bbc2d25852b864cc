/**
 * A badge check's answer in words, for people: the reasons of POST /qr/verify (docs/badges.md),
 * roles and dates. Shared by the checker's page (server-rendered) and its camera island (bundled
 * for the browser), so both say the same thing; it imports nothing, so the island's bundle and
 * type check stay free of the server's modules.
 */

/** Every reason /qr/verify gives (src/qr/badge-verifier.ts; the page checks the list is complete). */
export const REASON_WORDS = {
  malformed: 'This is not a badge of this service.',
  unsigned: 'This is an old unsigned code: nothing proves who made it. Its holder should make a new badge.',
  unknown_key: 'It is signed with a key this service does not know, or no longer uses.',
  bad_signature: 'It was changed after it was made, or it was not made by this service.',
  expired: 'It has expired.',
  user_not_found: 'The account it belongs to no longer exists.',
  user_disabled: 'The account it belongs to is disabled.',
  superseded: 'A newer badge replaced it: only the holder’s latest badge is valid.',
  role_changed: 'The holder’s role has changed since it was made.',
  email_changed: 'The holder’s email address has changed since it was made.',
} as const;

export type ReasonCode = keyof typeof REASON_WORDS;

export function reasonWords(reason: string | undefined): string {
  return reason !== undefined && Object.hasOwn(REASON_WORDS, reason)
    ? REASON_WORDS[reason as ReasonCode]
    : 'This badge cannot be accepted.';
}

export function roleWords(role: string | null | undefined): string {
  return role ? role.charAt(0).toUpperCase() + role.slice(1) : 'Unknown';
}

// Made on first use: the first Intl formatter maps ~8 MB of ICU data in, which an idle service
// (and one that never shows a date) should not hold (issue 17: idle RSS).
let DATE: Intl.DateTimeFormat | undefined;

/** "2 December 2026" (UTC: the same on the server and in every browser). */
export function dateWords(iso: string | Date): string {
  DATE ??= new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
  return DATE.format(typeof iso === 'string' ? new Date(iso) : iso);
}
