/**
 * The rules for new usernames (registration, an admin's create, a rename). Usernames are shown to
 * other people (the QR sign-in approval screen, badges, the admin's lists), so one must not be
 * able to pass for another:
 * - NFKC first: compatibility forms ("ａｄｍｉｎ", "ﬁ") become the plain ones they look like;
 * - letters, marks, digits and . _ - only: no spaces, no control, format (zero-width, bidi
 *   overrides such as U+202E) or private-use characters, and no "@" (a login string with "@" is
 *   read as an email);
 * - one script, or one of the combinations Unicode TS #39 calls "highly restrictive" (Latin with
 *   Han and Japanese kana, with Han and Bopomofo, or with Han and Hangul): "аdmin" with a
 *   Cyrillic "а" is refused;
 * - unique regardless of case (the stores' unique key is the lower-cased name), so "Admin" cannot
 *   sit beside "admin".
 * Whole-script look-alikes (an all-Cyrillic name that reads as a Latin one) are not detected; that
 * takes Unicode's confusables table.
 * Users imported from the old service keep their usernames as they were, and still sign in.
 */

export const USERNAME_MIN = 3;
export const USERNAME_MAX = 50;

const ALLOWED = /^[\p{L}\p{M}\p{N}._-]+$/u;
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{White_Space}]/u;

/** Scripts a username's letters may come from; a letter of any other script counts as "other". */
const SCRIPTS = [
  'Latin', 'Greek', 'Cyrillic', 'Armenian', 'Georgian', 'Hebrew', 'Arabic', 'Syriac', 'Thaana', 'Devanagari',
  'Bengali', 'Gurmukhi', 'Gujarati', 'Oriya', 'Tamil', 'Telugu', 'Kannada', 'Malayalam', 'Sinhala', 'Thai', 'Lao',
  'Tibetan', 'Myanmar', 'Ethiopic', 'Khmer', 'Mongolian', 'Hangul', 'Hiragana', 'Katakana', 'Bopomofo', 'Han',
] as const;
const SCRIPT_RES = SCRIPTS.map((name) => [name, new RegExp(`\\p{Script=${name}}`, 'u')] as const);

/** Sets of scripts allowed together (besides any single script). */
const ALLOWED_MIXES: readonly (readonly string[])[] = [
  ['Latin', 'Han', 'Hiragana', 'Katakana'],
  ['Latin', 'Han', 'Bopomofo'],
  ['Latin', 'Han', 'Hangul'],
];

export function normalizeUsername(raw: string): string {
  return raw.normalize('NFKC');
}

function scriptsOf(name: string): Set<string> {
  const found = new Set<string>();
  for (const char of name) {
    // Digits, marks, . _ - and letters shared by scripts (the kana length mark) belong to every script.
    if (!/\p{L}/u.test(char) || /[\p{Script=Common}\p{Script=Inherited}]/u.test(char)) continue;
    found.add(SCRIPT_RES.find(([, re]) => re.test(char))?.[0] ?? 'other');
  }
  return found;
}

/** What is wrong with a new username (already normalized), or null when it may be used. */
export function usernameProblem(name: string): string | null {
  const length = [...name].length;
  if (length < USERNAME_MIN || length > USERNAME_MAX) {
    return `Username must be ${USERNAME_MIN} to ${USERNAME_MAX} characters`;
  }
  if (INVISIBLE.test(name)) {
    return 'Username must not contain spaces, control, invisible or direction-changing characters';
  }
  if (!ALLOWED.test(name)) return 'Username may contain only letters, digits, ".", "_" and "-"';
  const scripts = scriptsOf(name);
  if (scripts.has('other')) return 'Username uses letters of a script that is not supported';
  if (scripts.size > 1 && !ALLOWED_MIXES.some((mix) => [...scripts].every((s) => mix.includes(s)))) {
    return `Username mixes letters of different scripts (${[...scripts].sort().join(', ')}), which can imitate another name`;
  }
  return null;
}
