/**
 * Email verification: a single-use, 24-hour token mailed to the user's address. Confirming it marks
 * the email verified only while it is still the user's address: a link mailed to an address the
 * user has since replaced proves nothing about the new one.
 */
import type { AuditLog, RequestContext } from '../../audit/audit-log.js';
import { AppError, errors } from '../../errors.js';
import type { BackgroundTasks } from '../../mail/background-tasks.js';
import type { Mailer } from '../../mail/mailer.js';
import type { Store, User } from '../../store/store.js';
import { emailChangedMail, verifyEmailMail } from './account-mails.js';
import { issueLinkToken, LINK_TOKEN_RE, sentToCurrentEmail } from './one-time-links.js';
import { hashToken } from '../sessions/session-service.js';

export const VERIFY_TOKEN_TTL_SECONDS = 24 * 3600;

export interface EmailVerificationService {
  /** Mails a verification token to the user's address (409 when it is verified already). */
  request(user: User, context: RequestContext): Promise<void>;
  /** Uses the token up and returns the user, now verified. */
  confirm(token: string, context: RequestContext): Promise<User>;
  /**
   * Tells the account's previous address that the email changed (after the answer, like every
   * mail). The owner learns of a take-over even when the attacker now holds the account's mailbox.
   */
  announceChange(previousEmail: string, user: User, context: RequestContext): void;
}

const invalidVerificationToken = () =>
  new AppError(400, 'INVALID_VERIFICATION_TOKEN', 'The verification token is invalid, expired or already used');

export function createEmailVerificationService(deps: {
  store: Store;
  audit: AuditLog;
  mailer: Mailer;
  background: BackgroundTasks;
  /** The base URL links in mails start with (http/public-url.ts); null: the token alone. */
  publicUrl: () => string | null;
}): EmailVerificationService {
  const { store, audit, mailer, background } = deps;
  return {
    async request(user) {
      if (user.emailVerified) throw new AppError(409, 'EMAIL_ALREADY_VERIFIED', 'This email address is verified already');
      const token = await issueLinkToken(store, user, 'email_verify', VERIFY_TOKEN_TTL_SECONDS);
      // Sent after the answer: a slow or failing mail server is logged, never a 500.
      background.run('email verification mail', () =>
        mailer.send(verifyEmailMail(user.email, token, deps.publicUrl(), VERIFY_TOKEN_TTL_SECONDS / 3600)),
      );
    },

    async confirm(token, context) {
      if (!LINK_TOKEN_RE.test(token)) throw invalidVerificationToken();
      const consumed = await store.oneTimeTokens.consume(hashToken(token), 'email_verify', new Date());
      if (consumed === null || consumed.userId === null) throw invalidVerificationToken();
      const user = await store.findUserById(consumed.userId);
      if (user === null) throw invalidVerificationToken();
      // A new email deletes the tokens mailed before (user-service), so this is a second line of
      // defence, for a change made around the service (the database edited by hand): the same answer.
      if (!sentToCurrentEmail(consumed, user)) throw invalidVerificationToken();
      const updated = await store.updateUser(user.id, { emailVerified: true });
      if (updated === null) throw errors.userNotFound();
      await audit.record('email.verified', { userId: user.id, context });
      return updated;
    },

    announceChange(previousEmail, user) {
      background.run('email changed notice', () => mailer.send(emailChangedMail(previousEmail, user.email, deps.publicUrl())));
    },
  };
}
