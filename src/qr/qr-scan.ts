/**
 * Reading the QR code in an uploaded photo or screenshot (PNG or JPEG), off the event loop and
 * within a budget. Any registered user may send any image, so an image is a request for CPU and
 * memory: a 7.5 KB checkerboard once held the loop 30 s, a 124 KB 16-bit PNG took 260 MB.
 *
 * Every limit is checked before the expensive step it guards:
 * - the upload size, by the route;
 * - from the header, on the loop (microseconds): the pixel count, and the memory decoding it
 *   needs (image-header.ts), both before a single pixel is decoded;
 * - a place in the scan lane of the CPU pool: a full lane answers 429 BUSY with Retry-After;
 * - on the worker (scan-decode.ts): a PNG inflating past its header's size, and a bounded search;
 * - the CPU time the worker spends on it (workers/cpu-budget.ts): past the budget the worker is
 *   ended and the answer is 422 IMAGE_TOO_COMPLEX.
 */
import { AppError } from '../errors.js';
import { createBudgetSlot, watchBudget } from '../workers/cpu-budget.js';
import { type CpuPool, cpuPool } from '../workers/cpu-pool.js';
import { readImageHeader } from './image-header.js';

/** Largest upload, in bytes. */
export const SCAN_MAX_BYTES = 5 * 1024 * 1024;

export interface ScanBudget {
  /** Largest image decoded, in pixels: a 16 MP phone photo. */
  maxPixels: number;
  /** Most memory decoding one image may need, by its header (image-header.ts), in bytes. */
  maxDecodeBytes: number;
  /** CPU time one image may take on its worker, in ms. */
  cpuMs: number;
}

/**
 * A 16 MP photo decodes and is searched in ~0.5–1 s of one core here, the hostile images of the
 * security finding in under 1.5 s (bench/scan-decoders.ts); 3 s leaves a slower core room.
 * 256 MB holds a 16 MP 8-bit PNG (~190 MB by image-header.ts) and refuses a 16 MP 16-bit one (~390 MB).
 */
export const DEFAULT_SCAN_BUDGET: ScanBudget = { maxPixels: 16_000_000, maxDecodeBytes: 256 * 1024 * 1024, cpuMs: 3000 };

const MIB = 1024 * 1024;

export const scanErrors = {
  unsupportedType: () =>
    new AppError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      'Send a PNG or JPEG image: Content-Type image/png or image/jpeg, or multipart/form-data with a "file" field',
    ),
  tooLarge: () =>
    new AppError(413, 'PAYLOAD_TOO_LARGE', `The image is too large (limit ${SCAN_MAX_BYTES / MIB} MiB)`),
  fileRequired: () => new AppError(422, 'FILE_REQUIRED', 'The multipart body has no "file" field'),
  invalidImage: () => new AppError(422, 'INVALID_IMAGE', 'The file is not a readable PNG or JPEG image'),
  tooManyPixels: (width: number, height: number, budget: ScanBudget) =>
    new AppError(
      422,
      'IMAGE_TOO_LARGE',
      `The image is ${width}×${height} px; at most ${budget.maxPixels / 1_000_000} megapixels are decoded`,
    ),
  tooMuchMemory: (bytes: number, budget: ScanBudget) =>
    new AppError(
      422,
      'IMAGE_TOO_LARGE',
      `Decoding this image would take about ${Math.ceil(bytes / MIB)} MB (at most ${budget.maxDecodeBytes / MIB} MB): ` +
        'send an 8-bit image, or a smaller one',
    ),
  tooComplex: (budget: ScanBudget) =>
    new AppError(
      422,
      'IMAGE_TOO_COMPLEX',
      `Searching this image for a QR code took more than its ${budget.cpuMs / 1000} s budget; ` +
        'send a photo cropped closer to the code',
    ),
  noQr: () => new AppError(422, 'NO_QR_FOUND', 'No QR code was found in the image'),
  multipleQr: () =>
    new AppError(422, 'MULTIPLE_QR', 'The image holds more than one QR code; send an image with exactly one'),
};

export interface QrScanner {
  /**
   * The text of the one QR code in a PNG or JPEG; 4xx AppErrors for anything else. The bytes, not
   * the declared Content-Type, decide how they are decoded.
   */
  read(bytes: Buffer): Promise<string>;
}

export interface QrScannerOptions {
  budget?: Partial<ScanBudget>;
  /** The process's shared pool unless given. */
  pool?: CpuPool;
}

export function createQrScanner(options: QrScannerOptions = {}): QrScanner {
  const budget = { ...DEFAULT_SCAN_BUDGET, ...options.budget };
  const pool = options.pool ?? cpuPool();
  // Two images a worker: one running, one waiting. Each may take its whole budget, so the line
  // clears in about two budgets; past it, 429 BUSY.
  const lane = pool.lane({
    priority: 'bulk',
    maxPending: 2 * pool.maxThreads,
    retryAfterSeconds: Math.max(1, Math.ceil((2 * budget.cpuMs) / 1000)),
  });

  return {
    async read(bytes) {
      const header = readImageHeader(bytes);
      if (header === null || header.width === 0 || header.height === 0) throw scanErrors.invalidImage();
      if (header.width * header.height > budget.maxPixels) throw scanErrors.tooManyPixels(header.width, header.height, budget);
      if (header.decodeBytes > budget.maxDecodeBytes) throw scanErrors.tooMuchMemory(header.decodeBytes, budget);

      const slot = createBudgetSlot();
      const controller = new AbortController();
      let overBudget = false;
      const stopWatching = watchBudget(slot, budget.cpuMs, () => {
        overBudget = true;
        controller.abort();
      });
      let outcome;
      try {
        // A copy goes to the worker (the body's buffer may share memory with others: not moved).
        outcome = await lane.run(
          'decodeQr',
          { bytes, format: header.format, inflatedBytes: header.inflatedBytes, slot },
          { signal: controller.signal },
        );
      } catch (error) {
        if (overBudget) throw scanErrors.tooComplex(budget);
        throw error;
      } finally {
        stopWatching();
      }
      if ('invalid' in outcome) throw scanErrors.invalidImage();
      const [first, second] = outcome.texts;
      if (first === undefined) throw scanErrors.noQr();
      // A desk must not check in whichever of two badges the decoder happened to see first.
      if (second !== undefined) throw scanErrors.multipleQr();
      return first;
    },
  };
}

let shared: QrScanner | undefined;

/** The scanner with the default budget on the process's pool. */
export function defaultQrScanner(): QrScanner {
  shared ??= createQrScanner();
  return shared;
}
