/**
 * /manage/users: the users, searched (email or username prefix), filtered by role and paged with
 * the service's keyset cursor, as GET /users pages them; /manage/users/new: an admin creates a
 * user with any role (users.createByAdmin, as POST /users).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ValidationFailed } from '../../../errors.js';
import { requestContext } from '../../../http/request-context.js';
import { ROLES, type Role, type User } from '../../../store/store.js';
import { csrfInput, errorSummary, field, type FieldError, fieldId, notice, textField, titleWithErrors } from '../../forms.js';
import { html, type SafeHtml } from '../../html.js';
import { fieldErrors } from '../sign-in-pages.js';
import type { ManageDeps } from './manage-pages.js';
import { ID_RE, manageNav, pager, queryParam, when, withQuery } from './manage-views.js';

const PAGE_SIZE = 25;
/** What GET /users accepts for `q` (its ListUsersQuerySchema): longer matches nobody anyway. */
const MAX_SEARCH = 254;

export const ROLE_LABELS: Record<Role, string> = { student: 'Student', teacher: 'Teacher', admin: 'Admin' };

export const isRole = (value: unknown): value is Role => typeof value === 'string' && (ROLES as readonly string[]).includes(value);

/** A role picker with its label (and its error, tied to it like field()'s). */
export function roleSelect(options: { name: string; label: string; value: string | undefined; any?: string; errors?: readonly FieldError[]; hint?: string }): SafeHtml {
  const id = fieldId(options.name);
  const error = options.errors?.find((e) => e.field === options.name)?.message;
  const describedBy = [options.hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  const choices = [...(options.any === undefined ? [] : [{ value: '', label: options.any }]), ...ROLES.map((r) => ({ value: r, label: ROLE_LABELS[r] }))];
  return html`<div class="field${error ? ' has-error' : ''}">
  <label for="${id}">${options.label}</label>
  ${options.hint ? html`<p class="hint" id="${id}-hint">${options.hint}</p>` : ''}
  ${error ? html`<p class="error" id="${id}-error"><span class="visually-hidden">Error:</span> ${error}</p>` : ''}
  <select id="${id}" name="${options.name}"${describedBy ? html` aria-describedby="${describedBy}"` : ''}${error ? html` aria-invalid="true"` : ''}>
    ${choices.map((c) => html`<option value="${c.value}"${c.value === (options.value ?? '') ? html` selected` : ''}>${c.label}</option>`)}
  </select>
</div>`;
}

interface ListFilters {
  q?: string;
  role?: Role;
  cursor?: string;
}

/** The filters of the query string, or what is wrong with them (each tied to its field). */
function readFilters(query: unknown): { filters: ListFilters; raw: { q?: string; role?: string }; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const q = queryParam(query, 'q');
  const role = queryParam(query, 'role');
  const cursor = queryParam(query, 'cursor');
  const filters: ListFilters = {};
  if (q === null || (q !== undefined && ([...q].length > MAX_SEARCH || /\p{Cc}/u.test(q)))) {
    errors.push({ field: 'q', message: `Search for at most ${MAX_SEARCH} characters, on one line` });
  } else filters.q = q;
  if (role === null || (role !== undefined && !isRole(role))) errors.push({ field: 'role', message: 'Choose a role from the list' });
  else filters.role = role;
  if (cursor === null || (cursor !== undefined && !ID_RE.test(cursor))) {
    errors.push({ field: '', message: 'This page link is broken: start again from the first page' });
  } else filters.cursor = cursor?.toLowerCase();
  const raw = { q: typeof q === 'string' ? q.slice(0, MAX_SEARCH) : undefined, role: typeof role === 'string' ? role : undefined };
  return { filters, raw, errors };
}

function caption(filters: ListFilters): string {
  const parts = [filters.role === undefined ? 'Users' : `${ROLE_LABELS[filters.role]}s`];
  if (filters.q !== undefined) parts.push(`whose email or username starts with “${filters.q}”`);
  return parts.join(' ');
}

function statusOf(user: User): string {
  return [user.disabled ? 'Disabled' : 'Active', user.totpEnabled ? '2FA on' : '', user.emailVerified ? '' : 'email not confirmed']
    .filter(Boolean)
    .join(', ');
}

function userTable(users: readonly User[], filters: ListFilters): SafeHtml {
  if (users.length === 0) return html`<p>No users match.</p>`;
  const rows = users.map(
    (u) => html`<tr>
  <th scope="row"><a href="/manage/users/${u.id}">${u.username}</a></th>
  <td>${u.email}</td>
  <td>${u.fullName ?? ''}</td>
  <td>${ROLE_LABELS[u.role]}</td>
  <td class="wraps">${statusOf(u)}</td>
  <td>${when(u.createdAt)}</td>
</tr>`,
  );
  return html`<div class="table-wrap" role="region" aria-labelledby="users-caption" tabindex="0">
<table class="users">
  <caption id="users-caption"><span class="caption-text">${caption(filters)}</span></caption>
  <thead><tr><th scope="col">Username</th><th scope="col">Email</th><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Status</th><th scope="col">Created</th></tr></thead>
  <tbody>${rows}</tbody>
</table>
</div>`;
}

export function usersListPages(deps: ManageDeps) {
  const { kit, users } = deps;
  const nav = manageNav('users', { outbox: deps.outbox !== null, apps: deps.appsOn });

  function createForm(
    request: FastifyRequest,
    reply: FastifyReply,
    state: { values?: Record<string, string>; errors?: FieldError[]; status?: number } = {},
  ) {
    const errors = state.errors ?? [];
    const v = state.values ?? {};
    const main = html`${nav}
<h1>Create a user</h1>
${errorSummary(errors)}
<form method="post" action="/manage/users/new" novalidate>
  ${csrfInput(kit.csrfToken(request, reply))}
  ${field({ name: 'full_name', label: 'Full name', value: v.full_name, autocomplete: 'off', errors, hint: 'Optional' })}
  ${field({ name: 'username', label: 'Username', value: v.username, autocomplete: 'off', required: true, spellcheck: false, errors, hint: '3 to 50 letters, digits, dots, dashes or underscores' })}
  ${field({ name: 'email', label: 'Email', type: 'email', value: v.email, autocomplete: 'off', required: true, spellcheck: false, errors })}
  ${field({ name: 'password', label: 'First password', type: 'password', autocomplete: 'new-password', required: true, errors, hint: 'At least 8 characters. Tell it to the user privately; they can change it, or reset it by email.' })}
  ${roleSelect({ name: 'role', label: 'Role', value: v.role ?? 'student', errors })}
  <div class="actions"><button type="submit">Create the user</button><a href="/manage/users">Cancel</a></div>
</form>`;
    return kit.render(request, reply, { title: titleWithErrors('Create a user', errors), main, status: state.status });
  }

  return async (app: FastifyInstance) => {
    kit.get(app, '/manage/users', async (request, reply) => {
      const admin = kit.requireAdmin(request, reply);
      if (admin === null) return reply;
      const { filters, raw, errors } = readFilters(request.query);
      const done = queryParam(request.query, 'done') === 'deleted' ? notice('success', 'The user is deleted.') : '';
      let results: SafeHtml = html``;
      if (errors.length === 0) {
        const page = await users.list(admin, { limit: PAGE_SIZE, cursor: filters.cursor, role: filters.role, q: filters.q });
        const base = { q: filters.q, role: filters.role };
        results = html`${userTable(page.users, filters)}
${pager('Pages of users', {
  first: filters.cursor === undefined ? undefined : withQuery('/manage/users', base),
  next: page.nextCursor === null ? undefined : withQuery('/manage/users', { ...base, cursor: page.nextCursor }),
  nextLabel: 'Next page',
})}`;
      }
      const main = html`${nav}
<h1>Users</h1>
${done}
${errorSummary(errors)}
<p><a class="button secondary" href="/manage/users/new">Create a user</a></p>
<form method="get" action="/manage/users" class="filters" role="search" aria-label="Users">
  ${field({ name: 'q', label: 'Email or username starts with', type: 'search', value: raw.q, spellcheck: false, errors, maxlength: MAX_SEARCH })}
  ${roleSelect({ name: 'role', label: 'Role', value: raw.role, any: 'Any role', errors })}
  <div class="actions"><button type="submit">Search</button>${filters.q !== undefined || filters.role !== undefined ? html`<a href="/manage/users">Show everyone</a>` : ''}</div>
</form>
${results}`;
      return kit.render(request, reply, { title: titleWithErrors('Users', errors), main, wide: true, status: errors.length > 0 ? 400 : 200 });
    });

    kit.get(app, '/manage/users/new', async (request, reply) => {
      if (kit.requireAdmin(request, reply) === null) return reply;
      return createForm(request, reply);
    });

    kit.post(app, '/manage/users/new', async (request, reply) => {
      const admin = kit.requireAdmin(request, reply);
      if (admin === null) return reply;
      const body = request.body;
      const values = {
        full_name: textField(body, 'full_name'),
        username: textField(body, 'username'),
        email: textField(body, 'email'),
        role: textField(body, 'role'),
      };
      const password = textField(body, 'password', { keepSpaces: true });
      const missing: FieldError[] = [];
      if (values.username === '') missing.push({ field: 'username', message: 'Enter a username' });
      if (values.email === '') missing.push({ field: 'email', message: 'Enter an email address' });
      if (password === '') missing.push({ field: 'password', message: 'Choose a first password' });
      if (!isRole(values.role)) missing.push({ field: 'role', message: 'Choose a role from the list' });
      if (missing.length > 0) return createForm(request, reply, { values, errors: missing, status: 422 });
      try {
        const user = await users.createByAdmin(
          admin,
          {
            username: values.username,
            email: values.email,
            password,
            fullName: values.full_name === '' ? null : values.full_name,
            role: values.role as Role,
          },
          requestContext(request),
        );
        return kit.redirect(reply, `/manage/users/${user.id}?done=created`);
      } catch (error) {
        if (error instanceof ValidationFailed) return createForm(request, reply, { values, errors: fieldErrors(error), status: 422 });
        if (error instanceof AppError && error.code === 'USER_EXISTS') {
          return createForm(request, reply, {
            values,
            errors: [{ field: 'username', message: 'That username or email belongs to another account already' }],
            status: 400,
          });
        }
        throw error;
      }
    });
  };
}
