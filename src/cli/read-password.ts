/**
 * Reads a password for a CLI. On a terminal it prompts (on stderr, so stdout stays the command's
 * output) and reads in raw mode: the terminal does not echo, so the password shows neither on
 * screen nor in a recorded session, and no "*" per character gives its length away. From a pipe
 * it reads one line, without a prompt.
 */
import { createInterface } from 'node:readline';

export interface PromptInput extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?(raw: boolean): unknown;
}

export interface PromptIo {
  input: PromptInput;
  output: NodeJS.WritableStream;
}

/** Ctrl-C at the prompt: the caller exits as an interrupted command would (130). */
export class PromptInterrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'PromptInterrupted';
  }
}

const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const ESC = '\u001b';

/** The typed line; null when the input ended first (Ctrl-D on an empty line, or an empty pipe). */
export async function readPassword(prompt: string, io: PromptIo): Promise<string | null> {
  const { input, output } = io;
  if (input.isTTY !== true || typeof input.setRawMode !== 'function') return readLine(input);
  const setRawMode = input.setRawMode.bind(input);
  output.write(prompt);
  setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise<string | null>((resolve, reject) => {
    let value = '';
    const finish = (settle: () => void) => {
      input.removeListener('data', onData);
      setRawMode(false);
      input.pause();
      output.write('\n');
      settle();
    };
    const onData = (chunk: string | Buffer) => {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n') return finish(() => resolve(value));
        if (ch === CTRL_C) return finish(() => reject(new PromptInterrupted()));
        if (ch === CTRL_D) {
          if (value === '') return finish(() => resolve(null));
          continue;
        }
        if (ch === '\u007f' || ch === '\b') {
          value = [...value].slice(0, -1).join('');
          continue;
        }
        // An arrow or function key: its escape sequence arrives in one chunk; none of it is typed text.
        if (ch === ESC) break;
        if (ch >= ' ') value += ch;
      }
    };
    input.on('data', onData);
  });
}

async function readLine(input: NodeJS.ReadableStream): Promise<string | null> {
  const rl = createInterface({ input, terminal: false });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  return null;
}
