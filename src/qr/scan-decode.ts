/**
 * Runs on a CPU worker (cpu-worker.ts), never on the event loop: the QR codes in a PNG or JPEG,
 * read by zxing-cpp compiled to WebAssembly (zxing-wasm). It replaced jsQR (no release since
 * 2021), which searched many windows of the full image when it found no code: 30 s of one core
 * for a 7.5 KB checkerboard. On the same images zxing-cpp found as many codes or more in a
 * fraction of the time and memory (bench/scan-decoders.ts; figures in bench/README.md).
 *
 * The image is decoded inside WebAssembly too (zxing-cpp's stb_image): a 16 MP JPEG in ~0.5 s
 * and ~80 MB, where jpeg-js took ~3 s and ~550 MB. Its memory is the WebAssembly heap, which
 * only grows: a module instance whose heap grew past RETAIN_HEAP_BYTES is dropped after the
 * decode, and the next one starts from the compiled module kept here.
 *
 * What the caller (qr-scan.ts) checked first, from the header: the pixel count and the memory
 * decoding needs. What only the data tells is checked here: a PNG whose data inflates to more
 * than its header allows (stb_image would grow its buffer for as long as the data goes on).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { inflateSync } from 'node:zlib';
import type * as ZXing from 'zxing-wasm/reader';
import type { ReaderOptions, ReadResult } from 'zxing-wasm/reader';
import { type BudgetSlot, startBudgetClock } from '../workers/cpu-budget.js';

export interface DecodeInput {
  bytes: Uint8Array;
  format: 'png' | 'jpeg';
  /** PNG: the inflated size its header allows. */
  inflatedBytes: number;
  slot: BudgetSlot;
}

/** The texts of the codes found (at most two: a second one is all the caller needs to know). */
export type DecodeOutcome = { texts: string[] } | { invalid: true };

/**
 * The searching zxing-cpp does, bounded: QR codes only; at most two; full resolution, then the
 * downscaled layers of its image pyramid (a layer a third of the last's side, while it is over
 * 500 px); each layer once as is and once inverted (light codes on a dark screen). No rotated
 * passes: finding a QR code's finder patterns does not depend on its angle (those passes serve
 * 1-D barcodes).
 */
const READER_OPTIONS: ReaderOptions = {
  formats: ['QRCode'],
  maxNumberOfSymbols: 2,
  tryHarder: true,
  tryRotate: false,
  tryInvert: true,
  tryDownscale: true,
  tryDenoise: false,
};

/** A heap past this after a decode is given back (the next decode pays ~20 ms to instantiate). */
const RETAIN_HEAP_BYTES = 64 * 1024 * 1024;

type Reader = typeof ZXing;
let loading: Promise<{ zxing: Reader; compiled: WebAssembly.Module }> | undefined;

/**
 * zxing-wasm fetches its .wasm from a CDN unless told otherwise: this service reads it from
 * node_modules and compiles it once per worker. No network, in tests or in production.
 */
function load(): Promise<{ zxing: Reader; compiled: WebAssembly.Module }> {
  loading ??= (async () => {
    const require = createRequire(import.meta.url);
    const [zxing, compiled] = await Promise.all([
      import('zxing-wasm/reader'),
      WebAssembly.compile(readFileSync(require.resolve('zxing-wasm/reader/zxing_reader.wasm'))),
    ]);
    return { zxing, compiled };
  })();
  return loading;
}

function overridesFor(compiled: WebAssembly.Module) {
  return {
    instantiateWasm(imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance) => void) {
      void WebAssembly.instantiate(compiled, imports).then(receive);
      // Emscripten's contract: an empty object now, the instance through the callback.
      return {};
    },
  };
}
let overrides: ReturnType<typeof overridesFor> | undefined;

/** The PNG's IDAT data inflates to at most what its header allows, or it is not decoded. */
function inflatesWithin(bytes: Uint8Array, limit: number): boolean {
  const png = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data: Buffer[] = [];
  for (let at = 8; at + 12 <= png.length; ) {
    const length = png.readUInt32BE(at);
    if (png.toString('latin1', at + 4, at + 8) === 'IDAT') data.push(png.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  try {
    inflateSync(Buffer.concat(data), { maxOutputLength: limit });
    return true;
  } catch {
    return false;
  }
}

export async function decodeQr(input: DecodeInput): Promise<DecodeOutcome> {
  startBudgetClock(input.slot);
  if (input.format === 'png' && !inflatesWithin(input.bytes, input.inflatedBytes)) return { invalid: true };
  const { zxing, compiled } = await load();
  overrides ??= overridesFor(compiled);
  // After a purge this instantiates again from the compiled module; else it is the cached instance.
  const module = await zxing.prepareZXingModule({ overrides, fireImmediately: true });
  let results: ReadResult[];
  try {
    results = await zxing.readBarcodes(input.bytes, READER_OPTIONS);
  } catch {
    return { invalid: true };
  } finally {
    // HEAPU8 is Emscripten's view of the whole heap (its type comes from @types/emscripten,
    // a browser-flavoured global declaration this project does not load).
    if ((module as unknown as { HEAPU8: Uint8Array }).HEAPU8.byteLength > RETAIN_HEAP_BYTES) zxing.purgeZXingModule();
  }
  // An image stb_image cannot decode comes back as one result of no format with an error ("Failed
  // to load image from memory"); codes found but not read are left out (returnErrors is off).
  // (Its format is typed as always one of the formats: the empty one is not in the type.)
  if (results.some((r) => (r.format as string) === '' && r.error !== '')) return { invalid: true };
  return { texts: results.filter((r) => r.isValid).map((r) => r.text) };
}
