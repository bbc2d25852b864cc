/** Small views shared by the attendance pages: times, statuses, flags, the live list's rows. */
import type { LiveCheckin } from '../../../attendance/live-bus.js';
import { html, type SafeHtml } from '../../html.js';

/** "09:02 UTC": the server's clock is the one that counts, so the page says which zone. */
export const clockWords = (iso: string | Date) => `${(typeof iso === 'string' ? iso : iso.toISOString()).slice(11, 16)} UTC`;
export const dayWords = (date: Date) => `${date.toISOString().slice(0, 10)} ${clockWords(date)}`;

export const STATUS_WORDS: Record<string, string> = { present: 'Present', late: 'Late', absent: 'Absent', excused: 'Excused' };
const FLAG_WORDS: Record<string, string> = { shared_device: 'Shared device', walk_in: 'Walk-in' };

export function statusTag(status: string | null): SafeHtml {
  if (status === null) return html`<span class="tag">Not yet</span>`;
  return html`<span class="tag status-${status}">${STATUS_WORDS[status] ?? status}</span>`;
}

export const flagTags = (flags: readonly string[]) => flags.map((f) => html` <span class="tag flag">${FLAG_WORDS[f] ?? f}</span>`);

/** One row of the live list (the island builds the same cells for rows that arrive later). */
export function liveRow(row: LiveCheckin): SafeHtml {
  return html`<tr data-user="${row.user_id}">
  <td>${row.full_name ?? row.username}</td>
  <td>${row.username}</td>
  <td>${statusTag(row.status)}${flagTags(row.flags)}</td>
  <td><time datetime="${row.at}">${clockWords(row.at)}</time></td>
  <td>${row.method}</td>
</tr>`;
}
