/**
 * Outgoing mail (password reset, email verification). SMTP through nodemailer when SMTP_URL is
 * set; otherwise a development outbox, so the flows work on `npm start` with no mail server.
 * The two are exclusive: with SMTP configured nothing is kept in memory or shown to admins.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.js';
import { createDevOutbox, type DevOutbox } from './dev-outbox.js';
import { createSmtpMailer } from './smtp-mailer.js';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  /** Resolves once the message is handed over (to the SMTP server, or to the outbox). */
  send(message: MailMessage): Promise<void>;
  /** Lets go of open connections at shutdown. */
  close(): void;
}

export function createMailer(
  config: Pick<Config, 'mail' | 'nodeEnv'>,
  log: Pick<FastifyBaseLogger, 'info' | 'warn'>,
): { mailer: Mailer; outbox: DevOutbox | null } {
  if (config.mail.smtpUrl !== null) {
    return { mailer: createSmtpMailer({ url: config.mail.smtpUrl, from: config.mail.from }), outbox: null };
  }
  if (config.nodeEnv === 'production') {
    log.warn('SMTP_URL is not set: reset and verification mails go to the outbox at GET /admin/outbox, not to users');
  }
  // Outside production the log shows whole mails (tokens included): that is how a developer
  // follows a reset link. In production a log is shipped and kept, so it gets the envelope only.
  const outbox = createDevOutbox({ log, logBodies: config.nodeEnv !== 'production' });
  return { mailer: outbox, outbox };
}
