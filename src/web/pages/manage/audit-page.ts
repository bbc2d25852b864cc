/**
 * /manage/audit: the audit log, newest first, filtered by event type and user, paged with the
 * `before` cursor: what GET /admin/audit answers, as a page.
 */
import type { FastifyInstance } from 'fastify';
import { errorSummary, field, type FieldError, titleWithErrors } from '../../forms.js';
import { html } from '../../html.js';
import type { ManageDeps } from './manage-pages.js';
import { eventTable, ID_RE, manageNav, namesOf, pageOf, pager, queryParam, withQuery } from './manage-views.js';

const PAGE_SIZE = 50;
/** What GET /admin/audit accepts for `type`. */
const TYPE_RE = /^[a-z0-9_.]{1,64}$/;

export function auditPage(deps: ManageDeps) {
  const { kit, audit, users } = deps;
  const nav = manageNav('audit', { outbox: deps.outbox !== null, apps: deps.appsOn });

  return async (app: FastifyInstance) => {
    kit.get(app, '/manage/audit', async (request, reply) => {
      if (kit.requireAdmin(request, reply) === null) return reply;
      const errors: FieldError[] = [];
      const type = queryParam(request.query, 'type');
      const userId = queryParam(request.query, 'user_id');
      const before = queryParam(request.query, 'before');
      if (type === null || (type !== undefined && !TYPE_RE.test(type))) {
        errors.push({ field: 'type', message: 'An event type is lowercase letters, digits, dots and underscores, like login.failed' });
      }
      if (userId === null || (userId !== undefined && !ID_RE.test(userId))) {
        errors.push({ field: 'user_id', message: 'A user id is 24 characters, 0 to 9 and a to f' });
      }
      if (before === null || (before !== undefined && !ID_RE.test(before))) {
        errors.push({ field: '', message: 'This page link is broken: start again from the newest events' });
      }

      let results = html``;
      if (errors.length === 0) {
        const filter = { type: type ?? undefined, userId: userId?.toLowerCase() };
        const rows = await audit.list({ limit: PAGE_SIZE + 1, before: before?.toLowerCase(), ...filter });
        const events = pageOf(rows, PAGE_SIZE);
        const names = await namesOf(events.items, users.findById);
        const about = filter.userId === undefined ? undefined : (names.get(filter.userId)?.username ?? filter.userId);
        const caption = ['Security events', filter.type === undefined ? '' : `of type ${filter.type}`, about === undefined ? '' : `about ${about}`, 'newest first']
          .filter(Boolean)
          .join(', ')
          .replace(/, (of|about)/g, ' $1');
        const base = { type: filter.type, user_id: filter.userId };
        results = html`${eventTable(events.items, names, {
          caption,
          captionId: 'audit-caption',
          showUser: true,
          typeHref: (t) => withQuery('/manage/audit', { ...base, type: t }),
        })}
${pager('Pages of events', {
  first: before === undefined ? undefined : withQuery('/manage/audit', base),
  firstLabel: 'Newest events',
  next: events.next === null ? undefined : withQuery('/manage/audit', { ...base, before: events.next }),
  nextLabel: 'Older events',
})}`;
      }

      const shown = (value: string | null | undefined) => (typeof value === 'string' ? value.slice(0, 100) : undefined);
      const main = html`${nav}
<h1>Audit log</h1>
${errorSummary(errors)}
<p>Sign-ins, password and role changes, two-factor authentication, deletions: who, when and from where.</p>
<form method="get" action="/manage/audit" class="filters" role="search" aria-label="Events">
  ${field({ name: 'type', label: 'Event type', value: shown(type), spellcheck: false, errors, hint: 'For example login.failed or user.role_changed', maxlength: 64 })}
  ${field({ name: 'user_id', label: 'User id', value: shown(userId), spellcheck: false, errors, maxlength: 24 })}
  <div class="actions"><button type="submit">Filter</button>${type !== undefined || userId !== undefined ? html`<a href="/manage/audit">Show every event</a>` : ''}</div>
</form>
${results}`;
      return kit.render(request, reply, { title: titleWithErrors('Audit log', errors), main, wide: true, status: errors.length > 0 ? 400 : 200 });
    });
  };
}
