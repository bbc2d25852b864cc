/**
 * The teacher's badge scanner (/teach/…/sessions/…/scan): the camera reads students' badges and
 * checks them in, and it keeps working with no network. Each badge's Ed25519 signature is
 * verified here with WebCrypto against the keys cached from /.well-known/jwks.json (and its
 * expiry); check-ins wait in IndexedDB with the time of the scan, and are sent when the network is
 * back. The server verifies each one again (superseded, disabled, not on the roster: refused and
 * shown here), removes duplicates and accepts the scan's time only inside the session's window.
 */
import { type Decode, nativeQrDecoder, scriptQrDecoder } from './_qr-frame-decoder.js';

interface Jwk {
  kid?: string;
  kty?: string;
  crv?: string;
  x?: string;
}
interface Queued {
  id?: number;
  session: string;
  data: string;
  scanned_at: string;
}
interface Result {
  outcome: 'accepted' | 'duplicate' | 'refused';
  reason?: string;
  username?: string;
  name?: string | null;
}

const SIGNED_RE = /^(USER:([0-9a-f]{24})\|EMAIL:[^\r\n]+\|ROLE:(?:student|teacher|admin)\|IAT:\d{1,12}\|EXP:(\d{1,12})\|KID:([^|\s]{1,128}))\|SIG:([A-Za-z0-9_-]{86})$/;
const KEYS_CACHE = 'authqr.jwks';
const SAME_BADGE_PAUSE_MS = 5000;
const SYNC_EVERY_MS = 10_000;

const root = document.getElementById('badge-scan');
if (root !== null) void setUp(root);

function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i += 1) out[i] = bin.charCodeAt(i);
  return out;
}

function openQueue(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open('authqr-attendance', 1);
    request.onupgradeneeded = () => request.result.createObjectStore('scans', { keyPath: 'id', autoIncrement: true });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB'));
  });
}

function tx<T>(db: IDBDatabase, mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const request = work(db.transaction('scans', mode).objectStore('scans'));
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB'));
  });
}

async function setUp(root: HTMLElement) {
  const session = root.dataset.session ?? '';
  const syncUrl = root.dataset.sync ?? '';
  const csrf = root.dataset.csrf ?? '';
  const max = Number(root.dataset.max) || 200;
  const status = document.getElementById('scan-status') as HTMLElement;
  const start = document.getElementById('scan-start') as HTMLButtonElement;
  const stop = document.getElementById('scan-stop') as HTMLButtonElement;
  const video = document.getElementById('scan-video') as HTMLVideoElement;
  const queuedCount = document.getElementById('scan-queued') as HTMLElement;
  const network = document.getElementById('scan-network') as HTMLElement;
  const results = document.getElementById('scan-results') as HTMLElement;
  const say = (text: string) => {
    status.textContent = text;
  };
  const db = await openQueue();
  const keys = new Map<string, CryptoKey>();
  let stream: MediaStream | null = null;
  let scanning = false;
  let syncing = false;
  let decoding: Promise<Decode> | null = null;
  const recent = new Map<string, number>();

  const showNetwork = () => {
    network.textContent = navigator.onLine ? 'online' : 'offline: scans are kept on this device';
  };

  function note(text: string, ok: boolean) {
    const item = document.createElement('li');
    item.className = ok ? 'scan-ok' : 'scan-refused';
    item.textContent = text;
    results.prepend(item);
  }

  async function importKeys(list: Jwk[]) {
    for (const jwk of list) {
      if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || jwk.kid === undefined || jwk.x === undefined) continue;
      try {
        keys.set(jwk.kid, await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, { name: 'Ed25519' }, false, ['verify']));
      } catch {
        // A browser without Ed25519 in WebCrypto: the server verifies every badge anyway.
      }
    }
  }

  async function loadKeys() {
    const cached = localStorage.getItem(KEYS_CACHE);
    if (cached !== null) await importKeys((JSON.parse(cached) as { keys: Jwk[] }).keys ?? []);
    try {
      const response = await fetch('/.well-known/jwks.json', { cache: 'no-store' });
      if (response.ok) {
        const text = await response.text();
        localStorage.setItem(KEYS_CACHE, text);
        await importKeys((JSON.parse(text) as { keys: Jwk[] }).keys ?? []);
      }
    } catch {
      // Offline: the cached keys serve.
    }
  }

  /** What the badge itself proves, here: our signature, not expired. null: fine (or cannot tell here). */
  async function localProblem(text: string): Promise<string | null> {
    const match = SIGNED_RE.exec(text);
    if (match === null) return 'not a signed badge';
    const [, signed, , exp, kid, sig] = match as unknown as string[];
    if (Number(exp) * 1000 <= Date.now()) return 'expired';
    const key = keys.get(kid as string);
    if (key === undefined) return keys.size === 0 ? null : 'not signed by this service';
    const valid = await crypto.subtle.verify('Ed25519', key, fromBase64url(sig as string), new TextEncoder().encode(signed));
    return valid ? null : 'bad signature';
  }

  async function refreshCount() {
    const all = (await tx(db, 'readonly', (s) => s.getAll())) as Queued[];
    queuedCount.textContent = String(all.filter((q) => q.session === session).length);
  }

  async function sync() {
    if (syncing || !navigator.onLine) return;
    syncing = true;
    try {
      const all = ((await tx(db, 'readonly', (s) => s.getAll())) as Queued[]).filter((q) => q.session === session).slice(0, max);
      if (all.length === 0) return;
      const response = await fetch(syncUrl, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ _csrf: csrf, scans: all.map((q) => ({ data: q.data, scanned_at: q.scanned_at })) }),
      });
      if (!response.ok) {
        say(response.status === 401 || response.status === 403 ? 'Sign in again to send the scans (they are kept here).' : 'The service did not take the scans yet; trying again soon.');
        return;
      }
      const answer = (await response.json()) as { results: Result[] };
      for (const [i, item] of all.entries()) {
        await tx(db, 'readwrite', (s) => s.delete(item.id as number));
        const r = answer.results[i];
        if (r === undefined) continue;
        const who = r.name ?? r.username ?? 'A badge';
        if (r.outcome === 'accepted') note(`${who}: checked in`, true);
        else if (r.outcome === 'duplicate') note(`${who}: already checked in`, true);
        else note(`Refused: ${(r.reason ?? 'invalid').replace(/_/g, ' ')}`, false);
      }
      say('Scans sent.');
    } catch {
      say('No network: the scans are kept on this device and sent when it is back.');
    } finally {
      syncing = false;
      await refreshCount();
    }
  }

  async function read(text: string) {
    const now = Date.now();
    if ((recent.get(text) ?? 0) > now) return;
    recent.set(text, now + SAME_BADGE_PAUSE_MS);
    const problem = await localProblem(text);
    if (problem !== null) {
      note(`Refused here: ${problem}`, false);
      say(`Not a valid badge (${problem}).`);
      return;
    }
    const all = (await tx(db, 'readonly', (s) => s.getAll())) as Queued[];
    if (!all.some((q) => q.session === session && q.data === text)) {
      await tx(db, 'readwrite', (s) => s.add({ session, data: text, scanned_at: new Date().toISOString() }));
    }
    say(navigator.onLine ? 'Badge read; sending…' : 'Badge read and kept (offline).');
    await refreshCount();
    void sync();
  }

  async function decoder(): Promise<Decode> {
    const native = await nativeQrDecoder(() => say('More than one badge is in view: show one at a time.'));
    return native ?? scriptQrDecoder(root.dataset.decoder ?? '');
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

  async function startCamera() {
    start.hidden = true;
    say('Starting the camera…');
    try {
      // Loaded when the page opened: the camera must start with no network too.
      decoding ??= decoder();
      const decode = await decoding;
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: 'environment' } }, audio: false });
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      stop.hidden = false;
      scanning = true;
      say('Point the camera at a badge.');
      const loop = async () => {
        if (!scanning) return;
        try {
          const text = video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA ? await decode(video) : null;
          if (text !== null) await read(text);
        } catch {
          // A frame that failed to decode: the next one.
        }
        window.setTimeout(() => void loop(), 150);
      };
      void loop();
    } catch {
      stopCamera();
      say('The camera could not be started: allow it in the browser, or use another device.');
    }
  }

  showNetwork();
  window.addEventListener('online', () => {
    showNetwork();
    void sync();
  });
  window.addEventListener('offline', showNetwork);
  window.setInterval(() => void sync(), SYNC_EVERY_MS);
  window.addEventListener('pagehide', stopCamera);
  await loadKeys();
  await refreshCount();
  decoding = decoder();
  decoding.catch(() => {
    decoding = null;
  });
  if (typeof navigator.mediaDevices?.getUserMedia === 'function') {
    start.hidden = false;
    say('Ready. Start the camera to scan badges.');
    start.addEventListener('click', () => void startCamera());
    stop.addEventListener('click', () => {
      stopCamera();
      say('The camera is off.');
    });
  } else say('This browser has no camera access here (it needs https).');
  void sync();
}
