/**
 * The page every web view sits in: language, title, the one stylesheet, a skip link, the header
 * with its navigation (what the signed-in user may open; sign out is a form, CSRF-protected like
 * every other), the main landmark and the islands a page asks for. No inline script or style:
 * the pages' Content-Security-Policy allows only this origin's files.
 */
import type { User } from '../store/store.js';
import type { WebAssets } from './assets.js';
import { CSRF_FIELD } from './csrf.js';
import { html, type SafeHtml } from './html.js';

export interface Chrome {
  siteName: string;
  assets: WebAssets;
  /** The path of this page (its navigation entry is marked current). */
  path: string;
  user: User | null;
  csrfToken: string;
}

export interface PageOptions {
  title: string;
  main: SafeHtml;
  /** Scripts (island names, e.g. 'badge-check.js') the page needs; most need none. */
  islands?: string[];
  /** A narrow, centred column: the forms of signing in and up. */
  narrow?: boolean;
  /** A wide page, header and column: the tables of /manage, whose columns would not fit 64rem. */
  wide?: boolean;
}

interface NavEntry {
  href: string;
  label: string;
}

function navEntries(user: User | null): NavEntry[] {
  if (user === null) {
    return [
      { href: '/sign-in', label: 'Sign in' },
      { href: '/sign-up', label: 'Create an account' },
      { href: '/check', label: 'Check a badge' },
    ];
  }
  return [
    { href: '/account', label: 'Account' },
    { href: '/badge', label: 'My badge' },
    user.role === 'student' ? { href: '/attendance', label: 'Attendance' } : { href: '/teach', label: 'Courses' },
    { href: '/check', label: 'Check a badge' },
    ...(user.role === 'admin' ? [{ href: '/manage/users', label: 'Manage' }] : []),
  ];
}

/** The navigation entry a path belongs to: its own, or its section's (every /manage page is "Manage"). */
function current(path: string, href: string): boolean {
  const section = href.startsWith('/manage/') ? '/manage' : href;
  return path === href || (section !== '/' && path.startsWith(`${section}/`));
}

export function page(chrome: Chrome, options: PageOptions): SafeHtml {
  const { assets, user } = chrome;
  const nav = navEntries(user).map(
    (entry) =>
      html`<li><a href="${entry.href}"${current(chrome.path, entry.href) ? html` aria-current="page"` : ''}>${entry.label}</a></li>`,
  );
  const signOut =
    user === null
      ? ''
      : html`<form method="post" action="/sign-out" class="sign-out">
          <input type="hidden" name="${CSRF_FIELD}" value="${chrome.csrfToken}">
          <button type="submit" class="link">Sign out <span class="visually-hidden">${user.username}</span></button>
        </form>`;
  const scripts = (options.islands ?? []).map((name) => html`<script type="module" src="${assets.url(name)}"></script>`);
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${options.title} · ${chrome.siteName}</title>
<link rel="stylesheet" href="${assets.url('site.css')}">
<link rel="icon" href="${assets.url('icon.svg')}" type="image/svg+xml">
${scripts}
</head>
<body${options.wide ? html` class="wide"` : ''}>
<a class="skip" href="#main">Skip to main content</a>
<header class="site">
  <div class="bar">
    <a class="brand" href="/">${chrome.siteName}</a>
    <nav aria-label="Main"><ul>${nav}</ul></nav>
    ${signOut}
  </div>
</header>
<main id="main" tabindex="-1"${options.narrow ? html` class="narrow"` : ''}>
${options.main}
</main>
</body>
</html>
`;
}
