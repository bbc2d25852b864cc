/**
 * npm run bench:decoders [-- --timeout 60] [-- --only photo|hostile]
 *
 * The QR decoders side by side on the same images (bench/scan-photos.ts): jsQR as the service
 * ran it until now (pngjs / jpeg-js pixels, jsQR, a search of image windows when nothing is
 * found: bench/jsqr-scan.ts) and zxing-cpp compiled to WebAssembly as the service runs it now
 * (src/qr/scan-decode.ts, after the header checks of src/qr/qr-scan.ts). For each image and
 * decoder, in a fresh process of its own: the answer (codes found), wall and CPU time, and the
 * peak memory the decode added (VmHWM, reset just before it). A decode still running after
 * --timeout seconds is stopped and reported so.
 *
 * A report, like npm run bench: exits 0 whatever the figures.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from './processes.js';
import { benchImages } from './scan-photos.js';

const DECODERS = ['jsqr', 'zxing-wasm'] as const;
type Decoder = (typeof DECODERS)[number];

interface Measured {
  answer: string;
  wallMs: number;
  cpuMs: number;
  peakMb: number;
}

const { values } = parseArgs({
  options: {
    timeout: { type: 'string', default: '60' },
    only: { type: 'string' },
    // Internal: one decode in this process.
    one: { type: 'string' },
    file: { type: 'string' },
  },
});

function memoryKb(key: 'VmRSS' | 'VmHWM'): number {
  return Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);
}

/** One decode, in this process: prints a Measured as JSON. */
async function decodeOnce(decoder: Decoder, file: string): Promise<void> {
  const bytes = readFileSync(file);
  const warmUp = readFileSync(path.join(REPO_ROOT, 'bench/results/images/warm-up.png'));
  let decode: (b: Buffer) => Promise<string>;
  if (decoder === 'jsqr') {
    const { readQrCode } = await import('./jsqr-scan.js');
    decode = readQrCode;
  } else {
    const { DEFAULT_SCAN_BUDGET } = await import('../src/qr/qr-scan.js');
    const { readImageHeader } = await import('../src/qr/image-header.js');
    const { decodeQr } = await import('../src/qr/scan-decode.js');
    const { createBudgetSlot } = await import('../src/workers/cpu-budget.js');
    decode = async (b) => {
      // The service's header checks first, as qr-scan.ts makes them; then the worker's decode,
      // here on this process's own thread (no pool, no budget: the decoder's own cost).
      const header = readImageHeader(b);
      if (header === null) return 'INVALID_IMAGE';
      if (header.width * header.height > DEFAULT_SCAN_BUDGET.maxPixels || header.decodeBytes > DEFAULT_SCAN_BUDGET.maxDecodeBytes) {
        return `IMAGE_TOO_LARGE (header: ${Math.round(header.decodeBytes / 1024 / 1024)} MB)`;
      }
      const outcome = await decodeQr({ bytes: b, format: header.format, inflatedBytes: header.inflatedBytes, slot: createBudgetSlot() });
      if ('invalid' in outcome) return 'INVALID_IMAGE';
      if (outcome.texts.length === 0) return 'NO_QR_FOUND';
      return outcome.texts.length > 1 ? 'MULTIPLE_QR' : (outcome.texts[0] as string);
    };
  }
  const answer = async (b: Buffer) => decode(b).catch((e: unknown) => (e instanceof Error && 'code' in e ? String(e.code) : String(e)));
  // Load and compile the decoder first: the figures are one decode's.
  await answer(warmUp);
  // Linux: "5" resets the peak resident set size (VmHWM) to the current one.
  writeFileSync('/proc/self/clear_refs', '5');
  const rssBefore = memoryKb('VmRSS');
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const result = await answer(bytes);
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const measured: Measured = {
    answer: result,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    peakMb: (memoryKb('VmHWM') - rssBefore) / 1024,
  };
  process.stdout.write(`${JSON.stringify(measured)}\n`);
}

function runOne(decoder: Decoder, file: string, timeoutMs: number): Promise<Measured | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/scan-decoders.ts', '--one', decoder, '--file', file], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => process.kill(child.pid as number, 'SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop();
      try {
        resolve(line ? (JSON.parse(line) as Measured) : null);
      } catch {
        resolve(null);
      }
    });
  });
}

async function main(): Promise<void> {
  const timeoutMs = Number(values.timeout) * 1000;
  const kinds = values.only?.split(',') ?? ['photo', 'hostile'];
  const images = benchImages().filter((image) => kinds.includes(image.kind));
  const { renderPng, encodeMatrix } = await import('../src/qr-render/render-png.js');
  writeFileSync(path.join(REPO_ROOT, 'bench/results/images/warm-up.png'), renderPng(encodeMatrix('warm-up'), { margin: 4 }));
  const rows: string[][] = [];
  const found: Record<Decoder, number> = { jsqr: 0, 'zxing-wasm': 0 };
  const photoCpu: Record<Decoder, number> = { jsqr: 0, 'zxing-wasm': 0 };
  const photoPeak: Record<Decoder, number> = { jsqr: 0, 'zxing-wasm': 0 };
  for (const image of images) {
    for (const decoder of DECODERS) {
      process.stderr.write(`[decoders] ${decoder}: ${image.name}\n`);
      const m = await runOne(decoder, image.file, timeoutMs);
      const hit = m !== null && image.expect !== null && m.answer === image.expect;
      if (hit) found[decoder] += 1;
      if (image.kind === 'photo' && m !== null) {
        photoCpu[decoder] += m.cpuMs;
        photoPeak[decoder] = Math.max(photoPeak[decoder], m.peakMb);
      }
      rows.push([
        `${image.name} (${(image.bytes.length / 1024 / 1024).toFixed(2)} MiB)`,
        decoder,
        m === null ? `stopped after ${values.timeout} s` : hit ? 'code found' : m.answer.slice(0, 48),
        m === null ? `> ${timeoutMs}` : m.wallMs.toFixed(0),
        m === null ? '' : m.cpuMs.toFixed(0),
        m === null ? '' : m.peakMb.toFixed(0),
      ]);
    }
  }
  const header = ['image', 'decoder', 'answer', 'wall ms', 'CPU ms', '+peak MB'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
  const photos = images.filter((i) => i.kind === 'photo' && i.expect !== null).length;
  const summary = DECODERS.map(
    (d) => `${d}: ${found[d]} of ${photos} codes found in the photos; ${photoCpu[d].toFixed(0)} ms of CPU for all photos; highest peak +${photoPeak[d].toFixed(0)} MB`,
  );
  process.stdout.write(`\n${[line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')}\n\n${summary.join('\n')}\n`);
}

if (values.one !== undefined) await decodeOnce(values.one as Decoder, values.file as string);
else await main();
