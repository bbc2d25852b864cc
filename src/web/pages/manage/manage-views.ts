/**
 * Pieces the admin pages (/manage/...) share: their own navigation, reading a query string that
 * anyone may have typed or forged, dates, and the table of audit events (the audit log and a
 * user's page both show one).
 */
import type { AuditEvent, User } from '../../../store/store.js';
import { html, type SafeHtml } from '../../html.js';

/** Which admin pages exist beside the users and the audit log. */
export interface ManageNavOn {
  /** The development outbox (no SMTP server configured). */
  outbox: boolean;
  /** The OpenID Connect apps (the provider is on). */
  apps: boolean;
}

/** The admin pages' own navigation, under the site's header. */
export function manageNav(current: 'users' | 'audit' | 'outbox' | 'apps', on: ManageNavOn): SafeHtml {
  const entries: { key: typeof current; href: string; label: string }[] = [
    { key: 'users', href: '/manage/users', label: 'Users' },
    { key: 'audit', href: '/manage/audit', label: 'Audit log' },
    ...(on.apps ? [{ key: 'apps' as const, href: '/manage/apps', label: 'Apps' }] : []),
    ...(on.outbox ? [{ key: 'outbox' as const, href: '/manage/outbox', label: 'Outbox' }] : []),
  ];
  const items = entries.map(
    (e) => html`<li><a href="${e.href}"${e.key === current ? html` aria-current="page"` : ''}>${e.label}</a></li>`,
  );
  return html`<nav class="manage-nav" aria-label="Manage"><ul>${items}</ul></nav>`;
}

/** Ids are 24 hex characters (users/ids.ts); anything else names nobody. */
export const ID_RE = /^[0-9a-f]{24}$/i;

/**
 * One parameter of a query string: undefined when absent or empty, null when it is not one
 * string (repeated, `a[b]=` forms), else the string trimmed.
 */
export function queryParam(query: unknown, name: string): string | undefined | null {
  const value = (query as Record<string, unknown> | null | undefined)?.[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** A URL with its query string, leaving out empty parameters. */
export function withQuery(path: string, params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(key, value);
  const text = search.toString();
  return text === '' ? path : `${path}?${text}`;
}

/** A moment as people read it (UTC, to the minute), with the exact time for machines. */
export function when(at: Date): SafeHtml {
  const iso = at.toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC</time>`;
}

/** Who an id is, for a table: the username with a link to their page, or the bare id once deleted. */
export type Names = ReadonlyMap<string, User>;

function person(id: string | null, names: Names): SafeHtml | string {
  if (id === null) return html`<span class="muted">—</span>`;
  const user = names.get(id);
  return user === undefined
    ? html`<span class="mono">${id}</span> <span class="muted">(deleted)</span>`
    : html`<a href="/manage/users/${user.id}">${user.username}</a>`;
}

/** An event's JSON detail as a small definition list; every key and value is escaped text. */
export function eventDetail(detail: string | null): SafeHtml | string {
  if (detail === null) return '';
  let value: unknown;
  try {
    value = JSON.parse(detail);
  } catch {
    return html`<span class="mono">${detail}</span>`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return html`<span class="mono">${JSON.stringify(value)}</span>`;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return '';
  const text = (v: unknown) =>
    typeof v === 'string' ? v : Array.isArray(v) && v.every((x) => typeof x !== 'object' || x === null) ? v.join(', ') : JSON.stringify(v);
  return html`<dl class="detail">${entries.map(([k, v]) => html`<dt>${k.replace(/_/g, ' ')}</dt><dd>${text(v)}</dd>`)}</dl>`;
}

/**
 * The table of audit events. `typeHref` turns an event type into a link that filters by it (the
 * audit log) or leaves it as text (a user's page, already filtered).
 */
export function eventTable(
  events: readonly AuditEvent[],
  names: Names,
  options: { caption: string; captionId: string; typeHref?: (type: string) => string; showUser: boolean },
): SafeHtml {
  if (events.length === 0) return html`<p>No events.</p>`;
  const rows = events.map(
    (e) => html`<tr>
  <th scope="row">${when(e.at)}</th>
  <td>${options.typeHref ? html`<a href="${options.typeHref(e.type)}">${e.type}</a>` : e.type}</td>
  ${options.showUser ? html`<td>${person(e.userId, names)}</td>` : ''}
  <td>${person(e.actorId, names)}</td>
  <td class="mono">${e.ip ?? ''}</td>
  <td class="detail-cell">${eventDetail(e.detail)}${e.userAgent === null ? '' : html`<p class="ua muted">${e.userAgent}</p>`}</td>
</tr>`,
  );
  return html`<div class="table-wrap" role="region" aria-labelledby="${options.captionId}" tabindex="0">
<table class="events">
  <caption id="${options.captionId}"><span class="caption-text">${options.caption}</span></caption>
  <thead><tr><th scope="col">Time</th><th scope="col">Event</th>${options.showUser ? html`<th scope="col">User</th>` : ''}<th scope="col">By</th><th scope="col">IP address</th><th scope="col">Details</th></tr></thead>
  <tbody>${rows}</tbody>
</table>
</div>`;
}

/** The users the events name (about and by), looked up once each. */
export async function namesOf(events: readonly AuditEvent[], findById: (id: string) => Promise<User | null>): Promise<Names> {
  const ids = new Set<string>();
  for (const e of events) {
    if (e.userId !== null) ids.add(e.userId);
    if (e.actorId !== null) ids.add(e.actorId);
  }
  const names = new Map<string, User>();
  await Promise.all(
    [...ids].map(async (id) => {
      const user = ID_RE.test(id) ? await findById(id) : null;
      if (user !== null) names.set(id, user);
    }),
  );
  return names;
}

/** A page of a keyset-paged list: the rows, and the cursor of the next page when there is one. */
export function pageOf<T extends { id: string }>(rows: readonly T[], limit: number): { items: T[]; next: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, next: rows.length > limit && last !== undefined ? last.id : null };
}

/** Links to the next page and back to the first, in a navigation landmark of their own. */
export function pager(label: string, links: { first?: string; firstLabel?: string; next?: string; nextLabel: string }): SafeHtml {
  if (links.first === undefined && links.next === undefined) return html``;
  return html`<nav class="pager" aria-label="${label}"><ul>
${links.first === undefined ? '' : html`<li><a href="${links.first}">${links.firstLabel ?? 'First page'}</a></li>`}
${links.next === undefined ? '' : html`<li><a href="${links.next}" rel="next">${links.nextLabel}</a></li>`}
</ul></nav>`;
}
