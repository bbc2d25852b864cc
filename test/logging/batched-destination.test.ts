import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { createBatchedDestination } from '../../src/logging/batched-destination.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'authqr-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function target(name: string) {
  const file = path.join(dir, name);
  const fd = openSync(file, 'w');
  return { fd, read: () => readFileSync(file, 'utf8'), close: () => closeSync(fd) };
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('batched log destination', () => {
  it('writes every pino line, in order, within flushMs', async () => {
    const out = target('order.log');
    const log = pino({}, createBatchedDestination({ fd: out.fd, flushMs: 30, flushBytes: 1024 * 1024 }));
    for (let i = 0; i < 500; i++) log.info({ i }, 'line');
    assert.equal(out.read(), '', 'nothing is written synchronously');
    await wait(100);
    const lines = out.read().trim().split('\n').map((l) => JSON.parse(l) as { i: number; msg: string });
    assert.deepEqual(
      lines.map((l) => l.i),
      Array.from({ length: 500 }, (_, i) => i),
    );
    assert.ok(lines.every((l) => l.msg === 'line'));
    out.close();
  });

  it('writes at once when flushBytes have gathered, without waiting for the timer', async () => {
    const out = target('size.log');
    const destination = createBatchedDestination({ fd: out.fd, flushBytes: 1000, flushMs: 60_000 });
    const line = `${JSON.stringify({ msg: 'y'.repeat(200) })}\n`;
    for (let i = 0; i < 6; i++) destination.write(line);
    await wait(50);
    assert.ok(out.read().length >= 1000, 'the full batch is written long before flushMs');
    destination.flushSync();
    assert.equal(out.read(), line.repeat(6));
    out.close();
  });

  it('with flushOnExit, writes what is gathered even when the process crashes right after logging', () => {
    const script = path.join(dir, 'crash.mts');
    const module = new URL('../../src/logging/batched-destination.ts', import.meta.url).href;
    writeFileSync(
      script,
      [
        `const { createBatchedDestination } = await import(${JSON.stringify(module)});`,
        "const destination = createBatchedDestination({ fd: 1, flushOnExit: process.argv[2] === 'yes' });",
        'destination.write(\'{"msg":"the last line before the crash"}\\n\');',
        "throw new Error('crash');",
      ].join('\n'),
    );
    const run = (flushOnExit: string) => spawnSync(process.execPath, ['--import', 'tsx', script, flushOnExit], { encoding: 'utf8' });
    const flushed = run('yes');
    assert.notEqual(flushed.status, 0);
    assert.match(flushed.stdout, /the last line before the crash/);
    assert.equal(run('no').stdout, '', 'without it the line is lost: the test can tell');
  });

  it('flushSync writes what is still gathered (before process.exit)', () => {
    const out = target('exit.log');
    const destination = createBatchedDestination({ fd: out.fd });
    destination.write('{"msg":"last words"}\n');
    destination.flushSync();
    assert.equal(out.read(), '{"msg":"last words"}\n');
    out.close();
  });

  it('bounds what waits in memory: drops past the limit, counts them, and says so in the log', async () => {
    const out = target('bounded.log');
    const destination = createBatchedDestination({ fd: out.fd, maxBufferedBytes: 1000, flushMs: 10 });
    const line = `${JSON.stringify({ msg: 'x'.repeat(80) })}\n`;
    for (let i = 0; i < 50; i++) destination.write(line);
    assert.ok(destination.dropped > 30, `dropped ${destination.dropped}`);
    await wait(80);
    const lines = out.read().trim().split('\n').map((l) => JSON.parse(l) as { msg: string; dropped?: number });
    assert.equal(lines.filter((l) => l.dropped === undefined).length, 50 - destination.dropped);
    const report = lines.find((l) => l.dropped !== undefined);
    assert.equal(report?.dropped, destination.dropped);
    out.close();
  });
});
