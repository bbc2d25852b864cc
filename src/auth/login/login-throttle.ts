/**
 * How guessing a secret (a password, a TOTP or recovery code) is slowed down, in the store, for
 * every route that checks one: login, the OAuth2 form, 2FA verify, TOTP setup, confirm and
 * disable, recovery codes, the password change.
 *
 * Two counters an attempt must pass, each locking for 1 s, 2 s, 4 s … at most 15 minutes:
 * - per account AND source (client IP): locks after 5 attempts. A stranger guessing from
 *   elsewhere never locks the owner out of their own network (OWASP Authentication Cheat Sheet,
 *   "Account Lockout": lockout must not become a denial of service against the owner);
 * - per account, from anywhere: locks only after 50, which a spread-out (botnet) attack reaches
 *   and an owner does not.
 * A password reset by mail lifts every lock of the account (`lift`), so the owner always has a way in.
 *
 * An attempt is counted BEFORE it runs, atomically with the check that it may run (ThrottleStore
 * .claim): 20 concurrent guesses cannot all pass a check made before any of them was counted. A
 * success wipes both counters; a right password with a second factor still to come is only taken
 * back (whoever knows the password must not wipe what wrong codes built up). Unknown accounts are counted exactly like known ones, under the
 * login string they were tried with, so a lock (429 ACCOUNT_LOCKED) says nothing about whether an
 * account exists.
 */
import { createHash } from 'node:crypto';
import type { AuditLog, RequestContext } from '../../audit/audit-log.js';
import { errors } from '../../errors.js';
import type { Store, ThrottlePolicy, User } from '../../store/store.js';

export const SOURCE_POLICY: ThrottlePolicy = { threshold: 5, maxLockSeconds: 900 };
export const ACCOUNT_POLICY: ThrottlePolicy = { threshold: 50, maxLockSeconds: 900 };

export interface LoginThrottle {
  /** The subject counted for a login: the user, or the login string tried when no user has it. */
  subjectOf(user: User | null, login: string): string;
  /** Counts an attempt; throws 429 ACCOUNT_LOCKED (with Retry-After) while either lock holds. */
  claim(subject: string, context: RequestContext): Promise<void>;
  /** The secret was right: this subject's counters (this source's and the account's) start again. */
  succeeded(subject: string, context: RequestContext): Promise<void>;
  /**
   * Takes the attempt back, nothing more: the password was right but a second factor is still to
   * come, or the attempt never ran (the hashing queue was full).
   */
  takeBack(subject: string, context: RequestContext): Promise<void>;
  /** Lifts every lock of the user (a password reset by mail; a deleted account). */
  lift(userId: string): Promise<void>;
}

const sha256 = (text: string, encoding: 'hex' | 'base64url') => createHash('sha256').update(text).digest(encoding);

/** The subject of a known user. */
export const userSubject = (userId: string) => `user:${userId}`;

export function createLoginThrottle(deps: { store: Store; audit?: AuditLog; now?: () => Date }): LoginThrottle {
  const { store, audit } = deps;
  const now = deps.now ?? (() => new Date());
  // Hashed: no email address or IP sits in the table, and every key fits its column.
  const sourceKey = (subject: string, context: RequestContext) => sha256(`source|${subject}|${context.ip ?? '-'}`, 'hex');
  const accountKey = (subject: string) => sha256(`account|${subject}`, 'hex');
  const userIdOf = (subject: string) => (subject.startsWith('user:') ? subject.slice(5) : null);

  async function claimOne(key: string, subject: string, policy: ThrottlePolicy, scope: string, context: RequestContext) {
    const claim = await store.throttles.claim(key, subject, policy, now());
    if (!claim.allowed) throw errors.accountLocked(claim.retryAfterSeconds);
    if (claim.failures >= policy.threshold) {
      await audit?.record('login.locked', { userId: userIdOf(subject), context, detail: { scope, attempts: claim.failures } });
    }
  }

  return {
    subjectOf(user, login) {
      // Case and compatibility forms of one login string share a counter (NFKC, lower case).
      return user === null ? `login:${sha256(login.normalize('NFKC').toLowerCase(), 'base64url')}` : userSubject(user.id);
    },

    async claim(subject, context) {
      // The source's counter first: a refusal there leaves the account-wide count untouched.
      await claimOne(sourceKey(subject, context), subject, SOURCE_POLICY, 'source', context);
      await claimOne(accountKey(subject), subject, ACCOUNT_POLICY, 'account', context);
    },

    succeeded: (subject, context) => store.throttles.clear([sourceKey(subject, context), accountKey(subject)]),

    async takeBack(subject, context) {
      await store.throttles.refund(sourceKey(subject, context), SOURCE_POLICY);
      await store.throttles.refund(accountKey(subject), ACCOUNT_POLICY);
    },

    lift: (userId) => store.throttles.clearSubject(userSubject(userId)),
  };
}
