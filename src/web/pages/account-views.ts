/**
 * Pieces the account pages share: the way back to the account, times, devices in words, and the
 * sentence for a lock or a limit. Views only: no rule lives here.
 */
import type { AppError } from '../../errors.js';
import { html, type SafeHtml } from '../html.js';

/** Where every account page leads back to (its own small navigation, above the heading). */
export const backToAccount = html`<p class="back"><a href="/account">Back to your account</a></p>`;

// Made on first use, like badge-words.ts's: the first Intl formatter maps ~8 MB of ICU data in.
let DATE_FORMAT: Intl.DateTimeFormat | undefined;

/** A moment, readable and machine-readable (UTC: the server does not know the reader's zone). */
export function when(date: Date): SafeHtml {
  DATE_FORMAT ??= new Intl.DateTimeFormat('en-GB', {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZone: 'UTC',
  });
  return html`<time datetime="${date.toISOString()}">${DATE_FORMAT.format(date)} UTC</time>`;
}

/**
 * A device in a few words from its user agent ("Firefox on Android"), for the list of sessions. A
 * guess, and only a label: the whole user agent is shown beside it.
 */
export function describeDevice(userAgent: string | null): string {
  if (userAgent === null || userAgent.trim() === '') return 'Unknown device';
  const ua = userAgent;
  const browser = /Edg(e|A|iOS)?\//.test(ua)
    ? 'Edge'
    : /OPR\/|Opera/.test(ua)
      ? 'Opera'
      : /Firefox\/|FxiOS/.test(ua)
        ? 'Firefox'
        : /Chrome\/|Chromium\/|CriOS/.test(ua)
          ? 'Chrome'
          : /Safari\//.test(ua)
            ? 'Safari'
            : null;
  const system = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad|iPod/.test(ua)
      ? 'iOS'
      : /Windows/.test(ua)
        ? 'Windows'
        : /CrOS/.test(ua)
          ? 'ChromeOS'
          : /Mac OS X|Macintosh/.test(ua)
            ? 'macOS'
            : /Linux/.test(ua)
              ? 'Linux'
              : null;
  if (browser !== null && system !== null) return `${browser} on ${system}`;
  // An app or a script names itself first ("AuthQR/2.1 (Android 15)", "curl/8.5.0").
  return browser ?? system ?? ([...ua.split(' ')[0] ?? ua].slice(0, 40).join('') || 'Unknown device');
}

/** The sentence for a locked account or a rate limit, with the wait. */
export function waitMessage(error: AppError): string {
  const seconds = Number(error.headers['Retry-After'] ?? 1);
  const wait = seconds >= 120 ? `${Math.ceil(seconds / 60)} minutes` : `${seconds} second${seconds === 1 ? '' : 's'}`;
  return error.code === 'ACCOUNT_LOCKED'
    ? `Too many wrong attempts for this account. Try again in ${wait}.`
    : `Too many requests. Try again in ${wait}.`;
}
