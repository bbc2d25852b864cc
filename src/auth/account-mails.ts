/** The text of the mails the account flows send: a password reset and an email verification. */
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
