/**
 * Sign in by QR, the screen that shows the code (/sign-in/qr): finishes by itself. It polls the
 * page's status route (`data-qr-wait`, a small JSON read of the request this browser's cookie
 * holds: the secret never reaches this script) every `interval` seconds, as the server asks, and
 * counts the expiry down. Once the request is no longer pending (approved, denied or expired) it
 * submits the page's own "continue" form, whose answer is the next page: signed in, or what
 * happened. Without script that form is the way on, by hand.
 */
import { duration } from '../duration.js';

/** The longest wait between polls after errors (seconds). */
const MAX_BACKOFF_SECONDS = 30;

interface StatusAnswer {
  status: 'pending' | 'approved' | 'denied' | 'expired';
  expires_in?: number;
  interval?: number;
}

const form = document.querySelector<HTMLFormElement>('form[data-qr-wait]');
if (form !== null) {
  const url = form.dataset.qrWait ?? '';
  const left = document.getElementById('qrl-left');
  const status = document.getElementById('qrl-status');
  let interval = Math.max(1, Number(form.dataset.interval) || 2);
  let failures = 0;

  const finish = (text: string) => {
    if (status !== null) status.textContent = text;
    // submit(), not requestSubmit(): the form has no handlers to run, and Safari 15 lacks the latter.
    form.submit();
  };

  const poll = async () => {
    let wait = interval;
    try {
      const response = await fetch(url, { headers: { accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' });
      if (response.ok) {
        failures = 0;
        const answer = (await response.json()) as StatusAnswer;
        if (answer.status === 'approved') return finish('Approved on your phone: signing you in…');
        if (answer.status === 'denied') return finish('Denied on the phone.');
        if (answer.status !== 'pending') return finish('The code expired.');
        if (typeof answer.interval === 'number' && answer.interval > 0) interval = answer.interval;
        if (left !== null && typeof answer.expires_in === 'number') left.textContent = duration(answer.expires_in);
        wait = interval;
      } else {
        // Too many requests: as long as the server says; anything else: back off, then try again.
        failures += 1;
        const retryAfter = Number(response.headers.get('retry-after'));
        wait = response.status === 429 && retryAfter > 0 ? retryAfter : Math.min(interval * 2 ** failures, MAX_BACKOFF_SECONDS);
      }
    } catch {
      failures += 1;
      wait = Math.min(interval * 2 ** failures, MAX_BACKOFF_SECONDS);
    }
    window.setTimeout(() => void poll(), wait * 1000);
  };

  window.setTimeout(() => void poll(), (Number(form.dataset.interval) || 0) * 1000);
}
