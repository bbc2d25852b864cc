/**
 * /manage/outbox: the mails the development outbox kept (no SMTP_URL), so a newcomer on a laptop
 * with no mail server can follow a reset or verification link. With SMTP configured there is no
 * outbox, and this page is a 404.
 *
 * A mail's text is shown as text. Only links to this service itself (its public base URL:
 * http/public-url.ts) become clickable; any other address stays plain text, so a mail can never
 * turn this admin page into a way to someone else's site.
 */
import type { FastifyInstance } from 'fastify';
import { errorSummary, titleWithErrors } from '../../forms.js';
import { html, type SafeHtml } from '../../html.js';
import { errorMain } from '../../web-kit.js';
import type { ManageDeps } from './manage-pages.js';
import { manageNav, pager, queryParam, when } from './manage-views.js';

/** Mails a page: the outbox keeps 100 of about 1 KB each, more than a page should weigh. */
const PAGE_SIZE = 20;

const URL_RE = /https?:\/\/[^\s<>"'`]+/g;

/** The text with the links to `base` made clickable; everything else escaped. */
export function linkify(text: string, base: string | null): SafeHtml {
  const own = base === null || !/^https?:\/\//.test(base) ? null : `${base.replace(/\/+$/, '')}/`;
  const parts: (SafeHtml | string)[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    const url = match[0];
    const start = match.index;
    if (own === null || !url.startsWith(own)) continue;
    parts.push(text.slice(last, start), html`<a href="${url}">${url}</a>`);
    last = start + url.length;
  }
  parts.push(text.slice(last));
  return html`${parts}`;
}

export function outboxPage(deps: ManageDeps) {
  const { kit, outbox, publicUrl } = deps;
  const nav = manageNav('outbox', { outbox: outbox !== null, apps: deps.appsOn });

  return async (app: FastifyInstance) => {
    kit.get(app, '/manage/outbox', async (request, reply) => {
      if (kit.requireAdmin(request, reply) === null) return reply;
      if (outbox === null) {
        return kit.render(request, reply, {
          status: 404,
          title: 'No outbox',
          main: errorMain('There is no outbox', 'Mail goes out through the mail server (SMTP_URL), so none is kept here.', {
            href: '/manage/users',
            label: 'Back to the users',
          }),
        });
      }
      // Where the page starts, counted from the newest mail (the outbox is a list in memory, not a table).
      const fromParam = queryParam(request.query, 'from');
      const from = fromParam === undefined ? 0 : fromParam !== null && /^\d{1,4}$/.test(fromParam) ? Number(fromParam) : null;
      const errors = from === null ? [{ field: '', message: 'This page link is broken: here are the newest mails' }] : [];
      const start = from ?? 0;
      const all = outbox.list();
      const mails = all.slice(start, start + PAGE_SIZE);
      const base = publicUrl();
      const items = mails.map(
        (m) => html`<li class="card mail">
  <h2>${m.subject}</h2>
  <dl class="facts">
    <dt>To</dt><dd>${m.to}</dd>
    <dt>Kept</dt><dd>${when(m.sentAt)}</dd>
  </dl>
  <pre class="mail-text">${linkify(m.text, base)}</pre>
</li>`,
      );
      const main = html`${nav}
<h1>Outbox</h1>
${errorSummary(errors)}
<p>No mail server is set up (SMTP_URL), so the service keeps the mails it would send here instead: the latest 100, newest first, until it restarts. Development only: with a mail server, they go to the users.</p>
<p><a href="/manage/outbox">Show the newest</a></p>
${mails.length === 0 ? html`<p>${start === 0 ? 'No mail yet.' : 'No mails this far back.'}</p>` : html`<ol class="mails">${items}</ol>`}
${pager('Pages of mails', {
  first: start === 0 ? undefined : '/manage/outbox',
  firstLabel: 'Newest mails',
  next: all.length > start + PAGE_SIZE ? `/manage/outbox?from=${start + PAGE_SIZE}` : undefined,
  nextLabel: 'Older mails',
})}`;
      return kit.render(request, reply, { title: titleWithErrors('Outbox', errors), main, status: errors.length > 0 ? 400 : 200 });
    });
  };
}
