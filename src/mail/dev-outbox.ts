/**
 * The development outbox: used instead of SMTP when SMTP_URL is unset. Keeps the latest mails in
 * memory (bounded: a flood of reset requests cannot grow it) for GET /admin/outbox, and logs each.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { MailMessage, Mailer } from './mailer.js';

export interface OutboxEntry extends MailMessage {
  sentAt: Date;
}

export interface DevOutbox extends Mailer {
  /** Newest first. */
  list(): OutboxEntry[];
}

export function createDevOutbox(options: {
  log: Pick<FastifyBaseLogger, 'info'>;
  /** Log the text (with its token) too; off in production, where logs are kept and shipped. */
  logBodies: boolean;
  capacity?: number;
}): DevOutbox {
  const capacity = options.capacity ?? 100;
  const entries: OutboxEntry[] = [];
  return {
    async send(message) {
      entries.unshift({ ...message, sentAt: new Date() });
      entries.length = Math.min(entries.length, capacity);
      const { to, subject, text } = message;
      options.log.info(
        { mail: options.logBodies ? { to, subject, text } : { to, subject } },
        'mail kept in the development outbox (no SMTP_URL): GET /admin/outbox',
      );
    },
    list: () => entries.map((e) => ({ ...e })),
    close: () => {},
  };
}
