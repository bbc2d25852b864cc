/**
 * The heavy load of the scan scenarios, as a process of its own (its work must not delay the
 * paced probe's timers in the bench process): POST /qr/scan of large photos, `--connections` at
 * a time, each connection sending the next as soon as it has its answer, until `--seconds` pass
 * or SIGTERM comes. Bounded: at most 10,000 requests. Prints one JSON line on exit: requests,
 * answers by status and code, scans a second.
 *
 *   node --import tsx bench/scan-load.ts --url http://127.0.0.1:PORT --token T --files a.jpg,b.jpg
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    token: { type: 'string' },
    files: { type: 'string' },
    connections: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '30' },
  },
});
if (!values.url || !values.token || !values.files) throw new Error('--url, --token and --files are required');

const MAX_REQUESTS = 10_000;
const images = values.files.split(',').map((file) => ({
  bytes: readFileSync(file),
  type: file.endsWith('.png') ? 'image/png' : 'image/jpeg',
}));
const target = new URL('/qr/scan', values.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(values.connections) });
const answers: Record<string, number> = {};
let sent = 0;
let stopping = false;
const started = performance.now();
const deadline = started + Number(values.seconds) * 1000;

function scan(image: (typeof images)[number]): Promise<void> {
  return new Promise((resolve) => {
    const request = http.request(
      target,
      {
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${values.token}`, 'content-type': image.type, 'content-length': image.bytes.length },
      },
      (response) => {
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
      },
    );
    request.once('error', () => {
      answers.error = (answers.error ?? 0) + 1;
      resolve();
    });
    request.end(image.bytes);
  });
}

async function connection(offset: number): Promise<void> {
  for (let i = offset; !stopping && performance.now() < deadline && sent < MAX_REQUESTS; i++) {
    sent += 1;
    await scan(images[i % images.length] as (typeof images)[number]);
  }
}

process.once('SIGTERM', () => {
  stopping = true;
});
await Promise.all(Array.from({ length: Number(values.connections) }, (_, i) => connection(i)));
agent.destroy();
const seconds = (performance.now() - started) / 1000;
const done = Object.values(answers).reduce((a, b) => a + b, 0);
process.stdout.write(`${JSON.stringify({ requests: done, answers, perSecond: done / seconds, seconds })}\n`);
