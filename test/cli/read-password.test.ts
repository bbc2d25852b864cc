import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { PromptInterrupted, readPassword } from '../../src/cli/read-password.js';

/** A stand-in terminal: records raw mode switches and everything written to the screen. */
function fakeTerminal() {
  const input = Object.assign(new PassThrough(), { isTTY: true, rawModes: [] as boolean[] });
  const terminal = Object.assign(input, { setRawMode: (raw: boolean) => input.rawModes.push(raw) });
  let screen = '';
  const output = new PassThrough();
  output.on('data', (d: Buffer) => (screen += d.toString()));
  return { input: terminal, output, screen: () => screen };
}

describe('readPassword (src/cli/read-password.ts)', () => {
  it('reads with the terminal in raw mode, shows only the prompt, and restores the terminal', async () => {
    const t = fakeTerminal();
    const read = readPassword('Password: ', t);
    assert.deepEqual(t.input.rawModes, [true], 'echo is off before anything is typed');
    t.input.write('s3cret-typed\r');
    assert.equal(await read, 's3cret-typed');
    assert.deepEqual(t.input.rawModes, [true, false]);
    assert.equal(t.screen(), 'Password: \n');
  });

  it('honours backspace and ignores arrow keys and other control characters', async () => {
    const t = fakeTerminal();
    const read = readPassword('Password: ', t);
    t.input.write('abx\u007fc');
    t.input.write('\u001b[D');
    t.input.write('d\u0001\r');
    assert.equal(await read, 'abcd');
  });

  it('rejects on Ctrl-C and answers null on Ctrl-D at an empty prompt, restoring the terminal each time', async () => {
    const interrupted = fakeTerminal();
    const read = readPassword('Password: ', interrupted);
    interrupted.input.write('half\u0003');
    await assert.rejects(read, PromptInterrupted);
    assert.deepEqual(interrupted.input.rawModes, [true, false]);

    const ended = fakeTerminal();
    const none = readPassword('Password: ', ended);
    ended.input.write('\u0004');
    assert.equal(await none, null);
    assert.deepEqual(ended.input.rawModes, [true, false]);
  });

  it('reads one line from a pipe, with no prompt', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let written = '';
    output.on('data', (d: Buffer) => (written += d.toString()));
    const read = readPassword('Password: ', { input, output });
    input.end('piped-password\nsecond line\n');
    assert.equal(await read, 'piped-password');
    assert.equal(written, '');
  });
});
