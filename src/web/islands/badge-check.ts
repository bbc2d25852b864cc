/**
 * The badge checker's camera (/check): the rear camera where there is one, frames decoded here in
 * the browser — BarcodeDetector where the browser has it for QR codes, else jsQR (qr-decoder.ts,
 * fetched only then: it is most of the checker's weight) — and the text read is checked with
 * POST /qr/verify. The verdict is shown as the page shows it without script
 * (views/badge-verdict.ts), in the page's live region. Only the text read leaves the browser;
 * no frame is sent or kept.
 *
 * Without a camera API (an old browser, a page not served over https) the section stays hidden:
 * the photo and text forms below it work without script.
 */
import { dateWords, reasonWords, roleWords } from '../badge-words.js';
import { type Decode, nativeQrDecoder, scriptQrDecoder } from './_qr-frame-decoder.js';

interface Verdict {
  valid: boolean;
  reason?: string;
  username: string | null;
  role: string | null;
  issued_at: string | null;
  expires_at: string | null;
}

/** The text of the QR code in the video's current frame, or null. */
/** At most one frame decoded every this many ms: the rest of the page stays responsive. */
const FRAME_GAP_MS = 120;

const root = document.getElementById('camera-check');
const start = document.getElementById('camera-start') as HTMLButtonElement | null;
const stop = document.getElementById('camera-stop') as HTMLButtonElement | null;
const video = document.getElementById('camera-video') as HTMLVideoElement | null;
const status = document.getElementById('camera-status');
const region = document.getElementById('verdict');

if (root && start && stop && video && status && region && typeof navigator.mediaDevices?.getUserMedia === 'function') {
  setUp(root, start, stop, video, status, region);
}

function setUp(
  root: HTMLElement,
  start: HTMLButtonElement,
  stop: HTMLButtonElement,
  video: HTMLVideoElement,
  status: HTMLElement,
  region: HTMLElement,
) {
  root.hidden = false;
  const decoderUrl = root.dataset.decoder ?? '';
  let decoder: Promise<Decode> | null = null;
  let stream: MediaStream | null = null;
  let scanning = false;

  const say = (text: string) => {
    status.textContent = text;
  };

  async function pickDecoder(): Promise<Decode> {
    const native = await nativeQrDecoder(() => say('More than one code is in view: show one badge at a time.'));
    root.dataset.using = native === null ? 'jsqr' : 'barcode-detector';
    return native ?? scriptQrDecoder(decoderUrl);
  }

  function stopCamera() {
    scanning = false;
    for (const track of stream?.getTracks() ?? []) track.stop();
    stream = null;
    video.srcObject = null;
    video.hidden = true;
    stop.hidden = true;
    start.hidden = false;
  }

  function cameraProblem(error: unknown): string {
    const name = error instanceof DOMException ? error.name : '';
    if (name === 'NotAllowedError' || name === 'SecurityError') {
      return 'The camera is not allowed on this page. Allow it in the browser’s settings, or check a photo or the badge’s text below.';
    }
    if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'No camera was found. Check a photo or the badge’s text below.';
    if (name === 'NotReadableError') return 'The camera is busy (another app may be using it). Close that app and try again.';
    return 'The camera could not be started. Check a photo or the badge’s text below.';
  }

  async function startCamera() {
    start.hidden = true;
    say('Starting the camera…');
    try {
      decoder ??= pickDecoder();
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      const decode = await decoder;
      stop.hidden = false;
      say('Point the camera at the badge’s QR code.');
      scanning = true;
      requestAnimationFrame((now) => scan(decode, now, 0));
    } catch (error) {
      decoder = null;
      stopCamera();
      say(cameraProblem(error));
    }
  }

  function scan(decode: Decode, now: number, last: number) {
    if (!scanning) return;
    if (now - last < FRAME_GAP_MS || video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA) {
      requestAnimationFrame((next) => scan(decode, next, last));
      return;
    }
    decode(video).then(
      (text) => {
        if (!scanning) return;
        if (text === null) {
          requestAnimationFrame((next) => scan(decode, next, now));
          return;
        }
        stopCamera();
        void check(text);
      },
      () => requestAnimationFrame((next) => scan(decode, next, now)),
    );
  }

  async function check(text: string) {
    say('Code read. Checking it…');
    let response: Response;
    try {
      response = await fetch('/qr/verify', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ data: text }),
      });
    } catch {
      say('The check could not reach the service. Check your connection and scan again.');
      return;
    }
    if (response.status === 429) {
      say(`Too many checks from this network. Wait ${response.headers.get('retry-after') ?? 'a few'} seconds and scan again.`);
      return;
    }
    // 422: empty, or too long to be a badge; either way, not one.
    const verdict: Verdict | null =
      response.status === 422
        ? { valid: false, reason: 'malformed', username: null, role: null, issued_at: null, expires_at: null }
        : response.ok
          ? ((await response.json()) as Verdict)
          : null;
    if (verdict === null) {
      say('The service could not check the badge just now. Scan it again in a moment.');
      return;
    }
    show(verdict);
    say('Checked. Start the camera again to check another badge.');
  }

  function element(tag: string, className: string | null, text: string | null, ...children: Node[]): HTMLElement {
    const node = document.createElement(tag);
    if (className !== null) node.className = className;
    if (text !== null) node.textContent = text;
    node.append(...children);
    return node;
  }

  /** The markup of views/badge-verdict.ts, built with DOM calls (no HTML strings). */
  function show(verdict: Verdict) {
    const mark = element('span', 'mark', verdict.valid ? '✓' : '✗');
    mark.setAttribute('aria-hidden', 'true');
    const word = element('h2', 'word', null, mark, document.createTextNode(verdict.valid ? ' VALID' : ' NOT VALID'));
    word.id = 'verdict-word';
    const section = element('section', `verdict ${verdict.valid ? 'valid' : 'invalid'}`, null, word);
    section.setAttribute('aria-labelledby', 'verdict-word');
    section.dataset.reason = verdict.reason ?? '';
    const facts: [string, string | null][] = [
      ['Name', verdict.username],
      ['Role', verdict.role === null ? null : roleWords(verdict.role)],
      ['Issued', verdict.issued_at === null ? null : dateWords(verdict.issued_at)],
      ['Expires', verdict.expires_at === null ? null : dateWords(verdict.expires_at)],
    ];
    const list = element('dl', 'facts', null);
    for (const [term, value] of facts) if (value !== null) list.append(element('dt', null, term), element('dd', null, value));
    if (list.childElementCount > 0) section.append(list);
    const reason = verdict.valid ? 'Made by this service, current, and its account is active.' : reasonWords(verdict.reason);
    section.append(element('p', 'reason', null, element('strong', null, verdict.valid ? 'Why:' : 'Reason:'), document.createTextNode(` ${reason}`)));
    region.replaceChildren(section);
    region.scrollIntoView({ block: 'start' });
  }

  start.textContent = 'Start the camera';
  start.addEventListener('click', () => void startCamera());
  stop.addEventListener('click', () => {
    stopCamera();
    say('The camera is off.');
  });
  // Leaving the page turns the camera off (its light too).
  window.addEventListener('pagehide', stopCamera);
}
