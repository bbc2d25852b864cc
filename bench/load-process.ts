/**
 * A heavy load as a process of its own, so that its work never delays the paced probe's timers
 * in the bench process. `--connections` requests in flight, each connection sending the next as
 * soon as it has its answer, until `--seconds` pass or SIGTERM comes; bounded to 10,000
 * requests. Prints one JSON line on exit: requests, answers by status and code, per second.
 *
 *   --kind scan  : POST /qr/scan of the image `--files` in turn, with `--token`
 *   --kind login : POST /auth/login as the seeded users `--first` .. `--first + --users - 1`
 *                  (bench/seed.ts's emails, one shared password `--password`)
 *
 *   node --import tsx bench/load-process.ts --kind scan --url http://127.0.0.1:PORT --token T --files a.jpg,b.jpg
 *   node --import tsx bench/load-process.ts --kind login --url http://127.0.0.1:PORT --first 10 --users 9000 --password P
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { benchEmail } from './seed.js';

const { values } = parseArgs({
  options: {
    kind: { type: 'string' },
    url: { type: 'string' },
    token: { type: 'string' },
    files: { type: 'string' },
    first: { type: 'string', default: '10' },
    users: { type: 'string', default: '1000' },
    password: { type: 'string' },
    connections: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '30' },
  },
});
if (!values.url) throw new Error('--url is required');

interface Request {
  path: string;
  headers: Record<string, string | number>;
  body: Buffer;
}

function requests(): (i: number) => Request {
  if (values.kind === 'scan') {
    if (!values.token || !values.files) throw new Error('--kind scan needs --token and --files');
    const token = values.token;
    const images = values.files.split(',').map((file) => ({ bytes: readFileSync(file), type: file.endsWith('.png') ? 'image/png' : 'image/jpeg' }));
    return (i) => {
      const image = images[i % images.length] as (typeof images)[number];
      return { path: '/qr/scan', headers: { authorization: `Bearer ${token}`, 'content-type': image.type, 'content-length': image.bytes.length }, body: image.bytes };
    };
  }
  if (values.kind === 'login') {
    if (!values.password) throw new Error('--kind login needs --password');
    const { password } = values;
    const first = Number(values.first);
    const users = Number(values.users);
    return (i) => {
      const body = Buffer.from(JSON.stringify({ email: benchEmail(first + (i % users)), password }));
      return { path: '/auth/login', headers: { 'content-type': 'application/json', 'content-length': body.length }, body };
    };
  }
  throw new Error('--kind must be scan or login');
}

const MAX_REQUESTS = 10_000;
const make = requests();
const base = new URL(values.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(values.connections) });
const answers: Record<string, number> = {};
let sent = 0;
let stopping = false;
const started = performance.now();
const deadline = started + Number(values.seconds) * 1000;

function send(made: Request): Promise<void> {
  return new Promise((resolve) => {
    const request = http.request(new URL(made.path, base), { method: 'POST', agent, headers: made.headers }, (response) => {
      let body = '';
      response.on('data', (d: Buffer) => (body += d.toString()));
      response.once('end', () => {
        let code = '';
        try {
          code = (JSON.parse(body) as { code?: string }).code ?? '';
        } catch {
          // not JSON: counted by status alone
        }
        const key = `${response.statusCode}${code ? ` ${code}` : ''}`;
        answers[key] = (answers[key] ?? 0) + 1;
        resolve();
      });
    });
    request.once('error', () => {
      answers.error = (answers.error ?? 0) + 1;
      resolve();
    });
    request.end(made.body);
  });
}

async function connection(): Promise<void> {
  while (!stopping && performance.now() < deadline && sent < MAX_REQUESTS) {
    await send(make(sent++));
  }
}

process.once('SIGTERM', () => {
  stopping = true;
});
await Promise.all(Array.from({ length: Number(values.connections) }, () => connection()));
agent.destroy();
const seconds = (performance.now() - started) / 1000;
const done = Object.values(answers).reduce((a, b) => a + b, 0);
process.stdout.write(`${JSON.stringify({ requests: done, answers, perSecond: done / seconds, seconds })}\n`);
