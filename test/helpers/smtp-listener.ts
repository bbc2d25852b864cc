/**
 * A real SMTP server on 127.0.0.1 (the `smtp-server` package) that keeps what it receives, so
 * tests send mail through nodemailer exactly as production does and read it back.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string | null;
  to: string[];
  subject: string;
  /** The body, with quoted-printable undone. */
  text: string;
}

export interface SmtpListener {
  /** smtp://127.0.0.1:PORT, for SMTP_URL. */
  url: string;
  received: ReceivedMail[];
  /**
   * Resolves with the first mail to `address` not taken before, waiting for it if need be; rejects
   * when none comes within `timeoutMs` (a missing mail fails the test instead of hanging the run).
   */
  next(address: string, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

/** `reject`: answer every message with a permanent failure, as a broken mail server would. */
export async function startSmtpListener(options: { reject?: boolean } = {}): Promise<SmtpListener> {
  const received: ReceivedMail[] = [];
  const taken = new Set<ReceivedMail>();
  const waiters: { address: string; resolve: (mail: ReceivedMail) => void }[] = [];

  const take = (address: string): ReceivedMail | undefined => {
    const mail = received.find((m) => !taken.has(m) && m.to.includes(address.toLowerCase()));
    if (mail !== undefined) taken.add(mail);
    return mail;
  };

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (options.reject) {
          callback(Object.assign(new Error('mailbox unavailable'), { responseCode: 550 }));
          return;
        }
        const envelope = session.envelope;
        received.push({
          from: envelope.mailFrom === false ? null : envelope.mailFrom.address,
          to: envelope.rcptTo.map((r) => r.address.toLowerCase()),
          ...parse(Buffer.concat(chunks).toString('utf8')),
        });
        for (const waiter of [...waiters]) {
          const mail = take(waiter.address);
          if (mail !== undefined) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(mail);
          }
        }
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;

  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    next(address, timeoutMs = 10_000) {
      const mail = take(address);
      if (mail !== undefined) return Promise.resolve(mail);
      return new Promise((resolve, reject) => {
        const waiter = {
          address,
          resolve: (found: ReceivedMail) => {
            clearTimeout(timer);
            resolve(found);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no mail to ${address} arrived within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Just enough RFC 5322 for the plain-text mails the service sends. */
function parse(raw: string): { subject: string; text: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  let body = raw.slice(split + 4);
  const header = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head)?.[1]?.trim() ?? '';
  if (/quoted-printable/i.test(header('Content-Transfer-Encoding'))) {
    body = Buffer.from(
      body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
      'latin1',
    ).toString('utf8');
  }
  return { subject: header('Subject'), text: body.replace(/\r\n/g, '\n') };
}
