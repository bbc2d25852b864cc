/**
 * The TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s steps, what every authenticator app
 * speaks), its recovery codes, and the second step of a login.
 *
 * Guessing is limited twice: a login challenge takes at most MAX_ATTEMPTS wrong codes, and every
 * code tried anywhere (login, confirm, disable, new recovery codes) is an attempt counted with
 * the account's logins (auth/login/login-throttle.ts), counted before it is checked, so racing requests
 * cannot slip past the lock. A code is accepted once: its time step is claimed atomically in the
 * store, so neither a replay nor two racing requests get a second login out of one code.
 *
 * A wrong code is 403 INVALID_MFA_CODE wherever a code is checked; 401 means the credential that
 * carried it (the mfa_token, the access token) is itself no good.
 */
import { Secret, TOTP } from 'otpauth';
import type { AuditLog, RequestContext } from '../../audit/audit-log.js';
import { AppError, errors } from '../../errors.js';
import type { QrImages } from '../../qr-render/qr-images.js';
import type { Store, User } from '../../store/store.js';
import { challengeData, invalidChallenge, type LoginFlow } from '../login/login-flow.js';
import { createLoginThrottle, type LoginThrottle, userSubject } from '../login/login-throttle.js';
import type { PasswordHasher } from '../passwords/passwords.js';
import { generateRecoveryCode, normalizeRecoveryCode, RECOVERY_CODE_COUNT, recoveryCodeHash } from './recovery-codes.js';
import { hashToken, type SessionIssuer, type SessionService } from '../sessions/session-service.js';

/** Wrong codes one login challenge takes before it is gone (log in again). */
export const MAX_ATTEMPTS = 5;
/** One step either way: phones whose clocks drift, codes typed as they roll over. */
const WINDOW = 1;
const SECRET_BYTES = 20;
const TOTP_CODE_RE = /^\d{6}$/;
const MFA_TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

export interface TotpEnrolment {
  secret: string;
  otpauthUrl: string;
  qrPngBase64: string;
  qrSvg: string;
}

export interface TotpService {
  /** A new pending secret (replacing an unconfirmed one) and its otpauth:// URI as QR images. */
  /** The password is asked again: a stolen access token alone must not enrol an attacker's phone. */
  setup(user: User, password: string, context: RequestContext): Promise<TotpEnrolment>;
  /** Turns TOTP on once a code proves the secret was scanned; returns the recovery codes. */
  confirm(user: User, code: string, context: RequestContext): Promise<string[]>;
  /** The second step of a login: a TOTP or recovery code for the challenge's user; a session from `issuer`. */
  verifyLogin<T>(mfaToken: string, code: string, context: RequestContext, issuer: SessionIssuer<T>): Promise<T>;
  /** The user a live login challenge belongs to (without using it up), for per-user limits. */
  challengeUserOf(mfaToken: string): Promise<string | null>;
  /**
   * Turns TOTP off, with the password and a code. Like a password change, every other session of
   * the user ends and every older access token is refused: `keepSessionId` (the session making
   * the change) stays.
   */
  disable(user: User, password: string, code: string, context: RequestContext, keepSessionId?: string): Promise<void>;
  /** An admin clears a user's TOTP and recovery codes (a lost phone); every session of the user ends. */
  reset(actor: User, userId: string, context: RequestContext): Promise<void>;
  /** New recovery codes (the old ones stop working), against a current TOTP code. */
  regenerateRecoveryCodes(user: User, code: string, context: RequestContext): Promise<string[]>;
  /** How many unused recovery codes the user has (the codes themselves are never shown again). */
  recoveryCodesLeft(user: User): Promise<number>;
}

export interface TotpServiceDeps {
  store: Store;
  passwords: PasswordHasher;
  login: LoginFlow;
  audit: AuditLog;
  /** Renders the otpauth:// QR. Give it an instance without a cache: the URI holds the secret. */
  images: QrImages;
  /** The issuer authenticator apps show beside the account. */
  issuer: string;
  /** Counts and locks attempts, shared with the logins; one over the same store by default. */
  throttle?: LoginThrottle;
  /** Ends sessions when the second factor goes (disable, an admin's reset). */
  sessions: Pick<SessionService, 'revokeEverything'>;
}

const totpErrors = {
  alreadyEnabled: () =>
    new AppError(409, 'TOTP_ALREADY_ENABLED', 'Two-factor authentication is already on; disable it first'),
  notSetUp: () => new AppError(409, 'TOTP_NOT_SET_UP', 'No pending TOTP secret: POST /auth/2fa/totp/setup first'),
  notEnabled: () => new AppError(409, 'TOTP_NOT_ENABLED', 'Two-factor authentication is not on'),
  /** Wrong, expired or already used: no hint which, and a used code is as good as a wrong one. */
  invalidCode: (attemptsLeft?: number) =>
    new AppError(
      403,
      'INVALID_MFA_CODE',
      attemptsLeft === 0
        ? 'The code is wrong or was already used; no attempts left: log in again'
        : 'The code is wrong or was already used',
      {},
      attemptsLeft === undefined ? {} : { attempts_left: attemptsLeft },
    ),
  invalidChallenge,
  wrongPassword: () => new AppError(403, 'INVALID_PASSWORD', 'The password is incorrect'),
};

type CodeCheck = { ok: true; method: 'totp' | 'recovery' } | { ok: false; reason: 'wrong_code' | 'replay' };

export function createTotpService(deps: TotpServiceDeps): TotpService {
  const { store, passwords, login, audit, images, issuer } = deps;
  const throttle = deps.throttle ?? createLoginThrottle({ store, audit });

  /** The time step `code` belongs to, within the window around now; null when it matches none. */
  function matchStep(secret: string, code: string): number | null {
    const timestamp = Date.now();
    const delta = TOTP.validate({ token: code, secret: Secret.fromBase32(secret), timestamp, window: WINDOW });
    return delta === null ? null : TOTP.counter({ timestamp }) + delta;
  }

  async function checkCode(user: User, typed: string, allowRecovery: boolean): Promise<CodeCheck> {
    const compact = typed.replace(/\s/g, '');
    if (TOTP_CODE_RE.test(compact)) {
      const step = user.totpSecret === null ? null : matchStep(user.totpSecret, compact);
      if (step === null) return { ok: false, reason: 'wrong_code' };
      // The compare-and-set is the anti-replay: of two requests with one code, one wins.
      return (await store.claimTotpStep(user.id, step)) ? { ok: true, method: 'totp' } : { ok: false, reason: 'replay' };
    }
    const normalized = allowRecovery ? normalizeRecoveryCode(typed) : null;
    if (normalized !== null) {
      // Consuming is atomic: a recovery code works once, even under a race.
      const used = await store.oneTimeTokens.consume(recoveryCodeHash(user.id, normalized), 'recovery', new Date());
      if (used !== null) return { ok: true, method: 'recovery' };
    }
    return { ok: false, reason: 'wrong_code' };
  }

  /** One attempt at a secret of the user's, counted before it is checked (429 while locked). */
  const claim = (user: User, context: RequestContext) => throttle.claim(userSubject(user.id), context);
  /** The secret was right: the account's counts start again. */
  const succeeded = (user: User, context: RequestContext) => throttle.succeeded(userSubject(user.id), context);

  const recordFailure = (user: User, context: RequestContext, detail: Record<string, unknown>) =>
    audit.record('mfa.failed', { userId: user.id, context, detail });

  async function replaceRecoveryCodes(userId: string): Promise<string[]> {
    await store.oneTimeTokens.deleteForUser(userId, 'recovery');
    const now = new Date();
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, generateRecoveryCode);
    for (const code of codes) {
      await store.oneTimeTokens.insert({
        hash: recoveryCodeHash(userId, normalizeRecoveryCode(code) as string),
        purpose: 'recovery',
        userId,
        createdAt: now,
        expiresAt: null,
        data: null,
      });
    }
    return codes;
  }

  async function clearSecondFactor(userId: string): Promise<void> {
    await store.updateUser(userId, { totpSecret: null, totpEnabled: false });
    await store.oneTimeTokens.deleteForUser(userId, 'recovery');
    // Pending login challenges would be refused anyway; they go too.
    await store.oneTimeTokens.deleteForUser(userId, 'mfa');
  }

  return {
    async setup(user, password, context) {
      if (user.totpEnabled) throw totpErrors.alreadyEnabled();
      await claim(user, context);
      if (!(await passwords.verify(user.passwordHash, password)).ok) {
        await recordFailure(user, context, { reason: 'wrong_password', step: 'setup' });
        throw totpErrors.wrongPassword();
      }
      // TOTP is off here: the password alone is the whole secret, and it was right.
      await succeeded(user, context);
      const secret = new Secret({ size: SECRET_BYTES }).base32;
      await store.updateUser(user.id, { totpSecret: secret, totpEnabled: false });
      const otpauthUrl = new TOTP({ issuer, label: user.email, secret }).toString();
      const png = images.render(otpauthUrl, { format: 'png', margin: 4, ecc: 'M' }, 'body').body;
      const svg = images.render(otpauthUrl, { format: 'svg', margin: 4, ecc: 'M' }, 'body').body;
      return {
        secret,
        otpauthUrl,
        qrPngBase64: Buffer.from(png).toString('base64'),
        qrSvg: svg.toString(),
      };
    },

    async confirm(user, code, context) {
      if (user.totpEnabled) throw totpErrors.alreadyEnabled();
      if (user.totpSecret === null) throw totpErrors.notSetUp();
      // Counted like every code: whoever confirms was just shown the secret and needs one try, but
      // a stolen access token must not buy unlimited guesses at the steps around now.
      await claim(user, context);
      const check = await checkCode(user, code, false);
      if (!check.ok) {
        await recordFailure(user, context, { reason: check.reason, step: 'confirm' });
        throw totpErrors.invalidCode();
      }
      await succeeded(user, context);
      await store.updateUser(user.id, { totpEnabled: true });
      const codes = await replaceRecoveryCodes(user.id);
      await audit.record('mfa.enabled', { userId: user.id, context, detail: { method: 'totp' } });
      return codes;
    },

    async verifyLogin(mfaToken, code, context, issuer) {
      if (!MFA_TOKEN_RE.test(mfaToken)) throw totpErrors.invalidChallenge();
      // Consumed first: of two requests with one challenge, only one gets to try a code.
      const challenge = await store.oneTimeTokens.consume(hashToken(mfaToken), 'mfa', new Date());
      if (challenge === null || challenge.userId === null) throw totpErrors.invalidChallenge();
      const user = await store.findUserById(challenge.userId);
      if (user === null || !user.totpEnabled) throw totpErrors.invalidChallenge();
      if (user.disabled) throw errors.accountDisabled();
      const data = challengeData(challenge);
      // Checked before any code: a browser's challenge never ends in API tokens (nor the reverse).
      if ((data.kind ?? 'api') !== issuer.kind) throw invalidChallenge();
      const attempts = typeof data.attempts === 'number' ? data.attempts : 0;
      try {
        await claim(user, context);
      } catch (error) {
        // Locked: no code is even checked, and the challenge keeps its attempts.
        await store.oneTimeTokens.insert(challenge);
        throw error;
      }

      const check = await checkCode(user, code, true);
      if (!check.ok) {
        const attemptsLeft = MAX_ATTEMPTS - (attempts + 1);
        if (attemptsLeft > 0) {
          // The same token, its expiry unchanged, one attempt fewer.
          await store.oneTimeTokens.insert({ ...challenge, data: JSON.stringify({ ...data, attempts: attempts + 1 }) });
        }
        await recordFailure(user, context, { reason: check.reason, step: 'login' });
        throw totpErrors.invalidCode(attemptsLeft);
      }

      await succeeded(user, context);
      const detail: Record<string, unknown> = { method: check.method };
      if (check.method === 'recovery') {
        detail.recovery_codes_left = await store.oneTimeTokens.countForUser(user.id, 'recovery');
      }
      await audit.record('mfa.succeeded', { userId: user.id, context, detail });
      return login.completeAfterMfa(user, context, challenge, issuer);
    },

    async challengeUserOf(mfaToken) {
      if (!MFA_TOKEN_RE.test(mfaToken)) return null;
      return (await store.oneTimeTokens.find(hashToken(mfaToken), 'mfa', new Date()))?.userId ?? null;
    },

    async disable(user, password, code, context, keepSessionId) {
      if (!user.totpEnabled) throw totpErrors.notEnabled();
      await claim(user, context);
      // The password first: a wrong one does not burn a TOTP step or a recovery code.
      if (!(await passwords.verify(user.passwordHash, password)).ok) {
        await recordFailure(user, context, { reason: 'wrong_password', step: 'disable' });
        throw totpErrors.wrongPassword();
      }
      const check = await checkCode(user, code, true);
      if (!check.ok) {
        await recordFailure(user, context, { reason: check.reason, step: 'disable' });
        throw totpErrors.invalidCode();
      }
      await succeeded(user, context);
      await clearSecondFactor(user.id);
      // Whoever had got past the second factor elsewhere (a stolen session) must face it no more
      // easily than the password: the other sessions end, as after a password change.
      await deps.sessions.revokeEverything(user.id, keepSessionId);
      await audit.record('mfa.disabled', { userId: user.id, context, detail: { method: check.method } });
    },

    async reset(actor, userId, context) {
      if (actor.role !== 'admin') throw errors.adminRequired();
      const target = await store.findUserById(userId);
      if (target === null) throw errors.userNotFound();
      await clearSecondFactor(userId);
      // A lost (perhaps stolen) phone: every session of the user ends; they sign in again.
      await deps.sessions.revokeEverything(userId);
      await audit.record('mfa.reset', { userId, actorId: actor.id, context, detail: { was_enabled: target.totpEnabled } });
    },

    async regenerateRecoveryCodes(user, code, context) {
      if (!user.totpEnabled) throw totpErrors.notEnabled();
      await claim(user, context);
      const check = await checkCode(user, code, false);
      if (!check.ok) {
        await recordFailure(user, context, { reason: check.reason, step: 'recovery_codes' });
        throw totpErrors.invalidCode();
      }
      await succeeded(user, context);
      const codes = await replaceRecoveryCodes(user.id);
      await audit.record('mfa.recovery_codes_regenerated', { userId: user.id, context });
      return codes;
    },

    recoveryCodesLeft: (user) => store.oneTimeTokens.countForUser(user.id, 'recovery'),
  };
}
