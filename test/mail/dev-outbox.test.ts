import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBackgroundTasks } from '../../src/mail/background-tasks.js';
import { createDevOutbox } from '../../src/mail/dev-outbox.js';
import { createMailer } from '../../src/mail/mailer.js';

function recordingLog() {
  const lines: { level: string; obj: unknown; msg?: string }[] = [];
  const at = (level: string) => (obj: unknown, msg?: string) => void lines.push({ level, obj, msg });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}
const mail = (n: number) => ({ to: `u${n}@example.com`, subject: `s${n}`, text: `Reset token: secret-${n}` });

describe('the development outbox', () => {
  it('keeps the latest mails, newest first, within its capacity', async () => {
    const outbox = createDevOutbox({ log: recordingLog(), logBodies: true, capacity: 3 });
    for (let n = 1; n <= 5; n += 1) await outbox.send(mail(n));
    assert.deepEqual(outbox.list().map((m) => m.to), ['u5@example.com', 'u4@example.com', 'u3@example.com']);
  });

  it('logs the whole mail, token included, outside production only', async () => {
    const dev = recordingLog();
    await createDevOutbox({ log: dev, logBodies: true }).send(mail(1));
    assert.match(JSON.stringify(dev.lines), /secret-1/);
    const prod = recordingLog();
    await createDevOutbox({ log: prod, logBodies: false }).send(mail(2));
    assert.equal(prod.lines.length, 1);
    assert.doesNotMatch(JSON.stringify(prod.lines), /secret-2/);
    assert.match(JSON.stringify(prod.lines), /u2@example\.com/);
  });

  it('is never used when SMTP_URL is set, and warns when production has no SMTP', () => {
    const mailConfig = { from: 'a@b.c', publicUrl: null };
    const log = recordingLog();
    assert.equal(createMailer({ nodeEnv: 'development', mail: { ...mailConfig, smtpUrl: 'smtp://127.0.0.1:1' } }, log).outbox, null);
    assert.notEqual(createMailer({ nodeEnv: 'development', mail: { ...mailConfig, smtpUrl: null } }, log).outbox, null);
    assert.equal(log.lines.length, 0);
    createMailer({ nodeEnv: 'production', mail: { ...mailConfig, smtpUrl: null } }, log);
    assert.deepEqual(log.lines.map((l) => l.level), ['warn']);
  });
});

describe('background tasks', () => {
  it('run after the caller goes on, log failures, and drain', async () => {
    const log = recordingLog();
    const tasks = createBackgroundTasks(log);
    const order: string[] = [];
    tasks.run('ok', async () => void order.push('task'));
    tasks.run('fails', async () => {
      throw new Error('smtp down');
    });
    order.push('caller');
    await tasks.drain();
    assert.deepEqual(order, ['caller', 'task']);
    assert.deepEqual(log.lines.map((l) => l.level), ['error']);
  });

  it('drop work beyond the bound instead of queueing without limit', async () => {
    const log = recordingLog();
    const tasks = createBackgroundTasks(log, 2);
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    assert.equal(tasks.run('a', () => gate), true);
    assert.equal(tasks.run('b', () => gate), true);
    assert.equal(tasks.run('c', () => gate), false);
    release();
    await tasks.drain();
    assert.equal(tasks.run('d', async () => {}), true);
    await tasks.drain();
    assert.deepEqual(log.lines.map((l) => l.level), ['warn']);
  });
});
