/**
 * Mail through an SMTP server (nodemailer), from SMTP_URL and MAIL_FROM. nodemailer is loaded on
 * the first mail, not at start-up: most requests never send one.
 */
import type { Transporter } from 'nodemailer';
import type { Mailer } from './mailer.js';

/**
 * Far below nodemailer's defaults (2 min to connect, 10 min idle): a dead mail server should
 * fail a send within seconds, not hold shutdown or pile up pending mails.
 */
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };

export function createSmtpMailer(options: { url: string; from: string }): Mailer {
  let transport: Promise<Transporter> | undefined;
  // Options given in the URL's query (e.g. ?connectionTimeout=...) win over these defaults.
  const open = () =>
    (transport ??= import('nodemailer').then(({ default: nodemailer }) =>
      nodemailer.createTransport({ ...TIMEOUTS, url: options.url }),
    ));
  return {
    async send(message) {
      const smtp = await open();
      await smtp.sendMail({ from: options.from, to: message.to, subject: message.subject, text: message.text });
    },
    close: () => {
      void transport?.then((smtp) => smtp.close());
    },
  };
}
