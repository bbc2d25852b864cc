/**
 * What the two camera islands (badge-check: one badge checked; badge-scan: a teacher's offline
 * scanner) share: reading a QR code from a video frame, with the browser's BarcodeDetector where
 * it reads QR codes, else the page's own decoder module (qr-decoder.js, loaded by URL) on a
 * scaled-down canvas copy of the frame.
 */
export type Decode = (video: HTMLVideoElement) => Promise<string | null>;

// The Shape Detection API is not in TypeScript's DOM types yet.
interface BarcodeDetectorType {
  new (options: { formats: string[] }): { detect(source: HTMLVideoElement): Promise<{ rawValue: string }[]> };
  getSupportedFormats(): Promise<string[]>;
}

/** Frames for the script decoder are scaled down to this side: plenty for a badge, and quick. */
const MAX_SIDE = 800;

/**
 * The browser's own QR reader, or null where there is none. With two different codes in one
 * frame it reads nothing and calls `onMany`: whichever it happened to see first must not pass.
 */
export async function nativeQrDecoder(onMany: () => void): Promise<Decode | null> {
  const Detector = (window as unknown as { BarcodeDetector?: BarcodeDetectorType }).BarcodeDetector;
  if (Detector === undefined) return null;
  try {
    if (!(await Detector.getSupportedFormats()).includes('qr_code')) return null;
  } catch {
    return null;
  }
  const detector = new Detector({ formats: ['qr_code'] });
  return async (frame) => {
    const found = await detector.detect(frame);
    if (new Set(found.map((code) => code.rawValue)).size > 1) {
      onMany();
      return null;
    }
    return found[0]?.rawValue ?? null;
  };
}

/** The page's decoder module (its URL in the island's data-decoder) on a canvas copy of each frame. */
export async function scriptQrDecoder(decoderUrl: string): Promise<Decode> {
  const { decode } = (await import(decoderUrl)) as { decode: (rgba: Uint8ClampedArray, width: number, height: number) => string | null };
  const canvas = document.createElement('canvas');
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (context === null) throw new Error('no 2D canvas');
  return async (frame) => {
    const scale = Math.min(1, MAX_SIDE / Math.max(frame.videoWidth, frame.videoHeight));
    const width = Math.round(frame.videoWidth * scale);
    const height = Math.round(frame.videoHeight * scale);
    if (width === 0 || height === 0) return null;
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    context.drawImage(frame, 0, 0, width, height);
    return decode(context.getImageData(0, 0, width, height).data, width, height);
  };
}
