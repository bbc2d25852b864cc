/** The text of the mails the account flows send: a password reset, an email verification, an email change notice. */
import type { MailMessage } from '../mail/mailer.js';

function linkTo(publicUrl: string | null, page: string, token: string): string | null {
  return publicUrl === null ? null : `${publicUrl}/${page}?token=${encodeURIComponent(token)}`;
}

export function passwordResetMail(to: string, token: string, publicUrl: string | null, ttlMinutes: number): MailMessage {
  const link = linkTo(publicUrl, 'reset-password', token);
  return {
    to,
    subject: 'Reset your password',
    text: [
      'Someone (we hope you) asked to reset the password of the account with this email address.',
      '',
      ...(link === null ? [] : [`Choose a new password here within ${ttlMinutes} minutes:`, link, '']),
      `Reset token: ${token}`,
      `It works once, for ${ttlMinutes} minutes: POST /auth/password-reset/confirm {"token", "new_password"}.`,
      'Every device signed in to the account is logged out when the password changes.',
      '',
      'If you did not ask for this, ignore this mail: your password stays as it is.',
    ].join('\n'),
  };
}

export function verifyEmailMail(to: string, token: string, publicUrl: string | null, ttlHours: number): MailMessage {
  const link = linkTo(publicUrl, 'verify-email', token);
  return {
    to,
    subject: 'Confirm your email address',
    text: [
      'Please confirm that this email address belongs to your account.',
      '',
      ...(link === null ? [] : [`Confirm it here within ${ttlHours} hours:`, link, '']),
      `Verification token: ${token}`,
      `It works once, for ${ttlHours} hours: POST /auth/verify-email/confirm {"token"}.`,
      '',
      'If you did not ask for this, ignore this mail.',
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
