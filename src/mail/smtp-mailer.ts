/** Mail through an SMTP server (nodemailer), from SMTP_URL and MAIL_FROM. */
import nodemailer from 'nodemailer';
import type { Mailer } from './mailer.js';

/**
 * Far below nodemailer's defaults (2 min to connect, 10 min idle): a dead mail server should
 * fail a send within seconds, not hold shutdown or pile up pending mails.
 */
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };

export function createSmtpMailer(options: { url: string; from: string }): Mailer {
  // Options given in the URL's query (e.g. ?connectionTimeout=...) win over these defaults.
  const transport = nodemailer.createTransport({ ...TIMEOUTS, url: options.url });
  return {
    async send(message) {
      await transport.sendMail({ from: options.from, to: message.to, subject: message.subject, text: message.text });
    },
    close: () => transport.close(),
  };
}
