/**
 * Passwords after registration: a signed-in change, and a reset by mail for a forgotten one.
 * Both revoke what the old password gave out (sessions, access tokens): whoever knew or guessed
 * it is logged out. A change keeps the caller's own session; a reset keeps none.
 */
import { fullFormats } from 'ajv-formats/dist/formats.js';
import type { AuditLog, RequestContext } from '../../audit/audit-log.js';
import { AppError, errors, ValidationFailed } from '../../errors.js';
import type { BackgroundTasks } from '../../mail/background-tasks.js';
import type { Mailer } from '../../mail/mailer.js';
import type { Store, User } from '../../store/store.js';
import { checkPasswordRules, type PasswordRules, type UserService } from '../../users/user-service.js';
import { passwordResetMail } from './account-mails.js';
import type { LoginThrottle } from '../login/login-throttle.js';
import { issueLinkToken, LINK_TOKEN_RE, sentToCurrentEmail } from './one-time-links.js';
import type { PasswordHasher } from '../passwords/passwords.js';
import { hashToken, type SessionService, type TokenPair } from '../sessions/session-service.js';

export const RESET_TOKEN_TTL_SECONDS = 30 * 60;

export type AccessToken = Omit<TokenPair, 'refresh_token'>;

export interface PasswordService {
  /** Changes the signed-in user's password; returns a new access token for the session that made the change. */
  change(
    user: User,
    sessionId: string | undefined,
    input: { currentPassword: string; newPassword: string },
    context: RequestContext,
  ): Promise<AccessToken>;
  /**
   * Mails a reset token if an active account has this email. Returns at once, before even the
   * look-up, and the same way either way: neither the answer nor its timing tells whether the
   * account exists. An address that is not one at all is a 422 (the API's schema refuses it first).
   */
  requestReset(email: string, context: RequestContext): void;
  /**
   * The account a reset token would change, while the token still works (null when unknown, used,
   * expired, or void): the reset page shows its form only then, and says whose password it sets.
   * Uses nothing up.
   */
  checkResetToken(token: string): Promise<{ email: string } | null>;
  /** Sets a new password with a mailed token (single use, 30 minutes). */
  confirmReset(token: string, newPassword: string, context: RequestContext): Promise<void>;
}

export const wrongCurrentPassword = () =>
  new AppError(403, 'INVALID_CURRENT_PASSWORD', 'The current password is not correct');
const invalidResetToken = () =>
  new AppError(400, 'INVALID_RESET_TOKEN', 'The reset token is invalid, expired or already used; request a new one');

export function createPasswordService(deps: {
  store: Store;
  users: Pick<UserService, 'verifyPassword'>;
  passwords: PasswordHasher;
  sessions: Pick<SessionService, 'revokeEverything' | 'reissueAccess'>;
  throttle: Pick<LoginThrottle, 'lift'>;
  audit: AuditLog;
  mailer: Mailer;
  background: BackgroundTasks;
  rules: PasswordRules;
  /** The base URL links in mails start with (http/public-url.ts); null: the token alone. */
  publicUrl: () => string | null;
}): PasswordService {
  const { store, users, passwords, sessions, throttle, audit, mailer, background, rules } = deps;

  return {
    async change(user, sessionId, input, context) {
      checkPasswordRules(input.newPassword, rules, 'new_password');
      // 403, not 401: the caller is authenticated, and clients treat a 401 as "log in again".
      if (!(await users.verifyPassword(user, input.currentPassword, context))) throw wrongCurrentPassword();
      const passwordHash = await passwords.hash(input.newPassword);
      await store.updateUser(user.id, { passwordHash });
      // A reset link still in a mailbox would undo the change: whoever asked for it, it is void now.
      await store.oneTimeTokens.deleteForUser(user.id, 'password_reset');
      await sessions.revokeEverything(user.id, sessionId);
      // Reloaded for the token version revokeEverything just bumped.
      const updated = await store.findUserById(user.id);
      if (updated === null) throw errors.userNotFound();
      await audit.record('password.changed', { userId: user.id, context, detail: { kept_session: sessionId ?? null } });
      return sessions.reissueAccess(updated, sessionId);
    },

    requestReset(email, context) {
      // What the API's EmailSchema checks, for callers without it in front (the web page): a typo
      // is told at once rather than answered "we sent a link" (this says nothing about accounts).
      if (email.length > 254 || !(fullFormats.email as RegExp).test(email)) {
        throw new ValidationFailed([{ loc: ['body', 'email'], msg: 'value is not a valid email address', type: 'value_error' }]);
      }
      background.run('password reset mail', async () => {
        const user = await store.findUserByEmail(email);
        if (user === null || user.disabled) {
          // Recorded (without the address) so probing shows up in the audit log.
          await audit.record('password.reset_requested', {
            context,
            detail: { sent: false, reason: user === null ? 'unknown_email' : 'disabled' },
          });
          return;
        }
        const token = await issueLinkToken(store, user, 'password_reset', RESET_TOKEN_TTL_SECONDS);
        await audit.record('password.reset_requested', { userId: user.id, context, detail: { sent: true } });
        await mailer.send(passwordResetMail(user.email, token, deps.publicUrl(), RESET_TOKEN_TTL_SECONDS / 60));
      });
    },

    async checkResetToken(token) {
      if (!LINK_TOKEN_RE.test(token)) return null;
      const found = await store.oneTimeTokens.find(hashToken(token), 'password_reset', new Date());
      if (found === null || found.userId === null) return null;
      const user = await store.findUserById(found.userId);
      // The same conditions as confirmReset's: a form that could only fail is not shown.
      if (user === null || user.disabled || !sentToCurrentEmail(found, user)) return null;
      return { email: user.email };
    },

    async confirmReset(token, newPassword, context) {
      // A password that breaks the rules is refused before the token is touched: the token survives.
      checkPasswordRules(newPassword, rules, 'new_password');
      if (!LINK_TOKEN_RE.test(token)) throw invalidResetToken();
      const hash = hashToken(token);
      // Looked at before hashing (argon2 is costly: random tokens must not buy hashing), used up
      // after it, atomically: of two concurrent confirmations exactly one wins.
      if ((await store.oneTimeTokens.find(hash, 'password_reset', new Date())) === null) throw invalidResetToken();
      const passwordHash = await passwords.hash(newPassword);
      const consumed = await store.oneTimeTokens.consume(hash, 'password_reset', new Date());
      if (consumed === null || consumed.userId === null) throw invalidResetToken();
      const user = await store.findUserById(consumed.userId);
      // An address changed since the mail (say, by an admin after a mailbox was lost) voids its link.
      if (user === null || user.disabled || !sentToCurrentEmail(consumed, user)) throw invalidResetToken();
      // The reset proved the user reads this mailbox: the email counts as verified, and every lock
      // that guesses put on the account is lifted (the owner's way back in).
      await store.updateUser(user.id, { passwordHash, emailVerified: true });
      await throttle.lift(user.id);
      await sessions.revokeEverything(user.id);
      await audit.record('password.reset', { userId: user.id, context });
    },
  };
}
