/**
 * The text of the mails the account flows send: a password reset, an email verification, an
 * email change notice. With a link (PUBLIC_URL, or localhost in development) the mail reads for a
 * person: the link first; the bare token follows at the end for apps that ask for it (the replaced
 * service's API clients read it from the mail). Without a link, the token is all there is.
 */
import type { MailMessage } from '../../mail/mailer.js';

function linkTo(publicUrl: string | null, page: string, token: string): string | null {
  return publicUrl === null ? null : `${publicUrl}/${page}?token=${encodeURIComponent(token)}`;
}

export function passwordResetMail(to: string, token: string, publicUrl: string | null, ttlMinutes: number): MailMessage {
  const link = linkTo(publicUrl, 'reset-password', token);
  const api = `POST /auth/password-reset/confirm {"token", "new_password"}`;
  return {
    to,
    subject: 'Reset your password',
    text: [
      'Someone (we hope you) asked to reset the password of the account with this email address.',
      '',
      ...(link === null
        ? [`Reset token: ${token}`, `It works once, for ${ttlMinutes} minutes: ${api}.`]
        : [`To choose a new password, open this link within ${ttlMinutes} minutes:`, link, '']),
      `${link === null ? '' : 'The link works once. '}Every device signed in to the account is signed out when the password changes.`,
      '',
      'If you did not ask for this, ignore this mail: your password stays as it is.',
      ...(link === null ? [] : ['', 'For an app that asks for a token rather than the link:', `Reset token: ${token}`, `(${api})`]),
    ].join('\n'),
  };
}

export function verifyEmailMail(to: string, token: string, publicUrl: string | null, ttlHours: number): MailMessage {
  const link = linkTo(publicUrl, 'verify-email', token);
  const api = `POST /auth/verify-email/confirm {"token"}`;
  return {
    to,
    subject: 'Confirm your email address',
    text: [
      'Please confirm that this email address belongs to your account.',
      '',
      ...(link === null
        ? [`Verification token: ${token}`, `It works once, for ${ttlHours} hours: ${api}.`]
        : [`To confirm it, open this link within ${ttlHours} hours:`, link, '', 'The link works once.']),
      '',
      'If you did not create an account or ask for this, ignore this mail.',
      ...(link === null ? [] : ['', 'For an app that asks for a token rather than the link:', `Verification token: ${token}`, `(${api})`]),
    ].join('\n'),
  };
}

/**
 * `a***@example.com`: enough for the owner to recognise an address of theirs, not the whole of it
 * for whoever reads the old mailbox now (a school's address handed on, a mailbox left behind).
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${[...email.slice(0, at)][0] ?? ''}***${email.slice(at)}`;
}

/** To the previous address, once the account moved to another one. */
export function emailChangedMail(to: string, newEmail: string, publicUrl: string | null): MailMessage {
  return {
    to,
    subject: 'The email address of your account was changed',
    text: [
      `The account that used this email address now uses ${maskEmail(newEmail)} instead.`,
      'Mails about the account (password resets, notices) go there from now on.',
      '',
      'If you made this change, there is nothing to do.',
      'If you did not, someone else may have your password: tell an administrator at once, so that they can',
      'restore the address and sign the account out everywhere.',
      ...(publicUrl === null ? [] : ['', `The service: ${publicUrl}`]),
    ].join('\n'),
  };
}
