/**
 * /manage/users/:id: one user, for an admin. Their details and profile (users.update, as PATCH
 * /users/{id}), their role, disabling and enabling, resetting their two-factor authentication
 * (totp.reset), deleting them (users.remove), and their audit events.
 *
 * The rules are the services': the last admin stays (409 LAST_ADMIN), a new role or disabling
 * ends every session of the user at once (their open browser is signed out on its next page).
 * Each destructive step (a lower role, disabling, a 2FA reset, deletion) goes through a page that
 * says what will happen, with a button to confirm it: no script, no `confirm()`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ValidationFailed } from '../../../errors.js';
import { requestContext } from '../../../http/request-context.js';
import type { Role, User } from '../../../store/store.js';
import { csrfInput, errorSummary, field, type FieldError, notice, textField, titleWithErrors } from '../../forms.js';
import { html, type SafeHtml } from '../../html.js';
import { errorMain, webContext } from '../../web-kit.js';
import { clearCookie } from '../../web-session.js';
import { fieldErrors } from '../sign-in-pages.js';
import type { ManageDeps } from './manage-pages.js';
import { eventTable, ID_RE, manageNav, namesOf, pageOf, pager, queryParam, when, withQuery } from './manage-views.js';
import { isRole, ROLE_LABELS, roleSelect } from './users-list-pages.js';

const EVENTS_PAGE_SIZE = 20;

const RANK: Record<Role, number> = { student: 0, teacher: 1, admin: 2 };
const isDowngrade = (from: Role, to: Role) => RANK[to] < RANK[from];
/** "a student", "an admin". */
const aRole = (role: Role) => `${role === 'admin' ? 'an' : 'a'} ${ROLE_LABELS[role].toLowerCase()}`;

/** What the page says after an action (a fixed sentence per code: a link cannot make it say anything else). */
const DONE: Record<string, string> = {
  created: 'The user is created.',
  saved: 'The changes are saved.',
  unchanged: 'Nothing changed.',
  role: 'The role is changed. The user is signed out everywhere and signs in again with the new role.',
  disabled: 'The account is disabled. The user is signed out everywhere and cannot sign in.',
  enabled: 'The account is enabled again: the user can sign in.',
  'mfa-reset': 'Two-factor authentication is off for this user: they sign in with their password alone, and may set it up again.',
};

interface DetailsState {
  values?: { username: string; email: string; full_name: string };
  errors?: FieldError[];
  status?: number;
}

export function userPages(deps: ManageDeps) {
  const { kit, users, totp, audit } = deps;
  const nav = manageNav('users', deps.outbox !== null);
  const context = requestContext;

  const userUrl = (user: User, done?: string) => withQuery(`/manage/users/${user.id}`, { done });

  function notFound(request: FastifyRequest, reply: FastifyReply) {
    return kit.render(request, reply, {
      status: 404,
      title: 'No such user',
      main: errorMain('No such user', 'There is no user with this id: it may have been deleted.', { href: '/manage/users', label: 'Back to the users' }),
    });
  }

  /** The admin and the user the URL names; null when a page (sign-in, 403, 404) is sent instead. */
  async function adminAndTarget(request: FastifyRequest, reply: FastifyReply): Promise<{ admin: User; user: User } | null> {
    const admin = kit.requireAdmin(request, reply);
    if (admin === null) return null;
    const id = (request.params as { id: string }).id;
    if (!ID_RE.test(id)) {
      notFound(request, reply);
      return null;
    }
    try {
      return { admin, user: await users.getVisible(admin, id.toLowerCase()) };
    } catch (error) {
      if (error instanceof AppError && error.code === 'USER_NOT_FOUND') {
        notFound(request, reply);
        return null;
      }
      throw error;
    }
  }

  /**
   * The admin changed or removed their own account in a way that ends their sessions (the service
   * revoked this browser's too): say so, rather than fail on the next page.
   */
  function signedOut(request: FastifyRequest, reply: FastifyReply, what: string) {
    clearCookie(request, reply, 'sid');
    const web = webContext(request);
    web.user = null;
    web.session = null;
    const main = html`<h1>You are signed out</h1>
${notice('info', what)}
<p>Changes like this end every session of the account, yours in this browser too.</p>
<p><a class="button" href="/sign-in">Sign in</a></p>`;
    return kit.render(request, reply, { title: 'You are signed out', main, narrow: true });
  }

  const twoFactor = (user: User) => (user.totpEnabled ? 'On' : user.totpSecret !== null ? 'Being set up' : 'Off');

  async function detailsPage(request: FastifyRequest, reply: FastifyReply, admin: User, user: User, state: DetailsState = {}) {
    const errors = [...(state.errors ?? [])];
    const before = queryParam(request.query, 'before');
    const validBefore = before === undefined || (before !== null && ID_RE.test(before));
    if (!validBefore) errors.push({ field: '', message: 'The link to older events is broken: here are the newest' });
    const after = validBefore ? before?.toLowerCase() : undefined;
    const rows = await audit.list({ limit: EVENTS_PAGE_SIZE + 1, userId: user.id, before: after });
    const events = pageOf(rows, EVENTS_PAGE_SIZE);
    const names = await namesOf(events.items, users.findById);
    const done = queryParam(request.query, 'done');
    const message = typeof done === 'string' && Object.hasOwn(DONE, done) ? notice('success', DONE[done] as string) : '';
    const v = state.values ?? { username: user.username, email: user.email, full_name: user.fullName ?? '' };
    const self = user.id === admin.id;
    const main = html`${nav}
<h1>${user.username}</h1>
${message}
${errorSummary(errors)}
<dl class="facts">
  <dt>Email</dt><dd>${user.email} <span class="muted">(${user.emailVerified ? 'verified' : 'not verified'})</span></dd>
  <dt>Full name</dt><dd>${user.fullName ?? html`<span class="muted">—</span>`}</dd>
  <dt>Role</dt><dd>${ROLE_LABELS[user.role]}</dd>
  <dt>Status</dt><dd>${user.disabled ? 'Disabled' : 'Active'}</dd>
  <dt>Two-factor authentication</dt><dd>${twoFactor(user)}</dd>
  <dt>Created</dt><dd>${when(user.createdAt)}</dd>
  <dt>Id</dt><dd class="mono">${user.id}</dd>
</dl>
${self ? notice('warning', 'This is your own account: a new role, disabling or deleting it signs you out.') : ''}

<section class="card" aria-labelledby="profile-title">
<h2 id="profile-title">Profile</h2>
<form method="post" action="/manage/users/${user.id}/profile" novalidate>
  ${csrfInput(kit.csrfToken(request, reply))}
  ${field({ name: 'username', label: 'Username', value: v.username, autocomplete: 'off', required: true, spellcheck: false, errors })}
  ${field({ name: 'email', label: 'Email', type: 'email', value: v.email, autocomplete: 'off', required: true, spellcheck: false, errors, hint: 'A new address must be verified again; links mailed to the old one stop working.' })}
  ${field({ name: 'full_name', label: 'Full name', value: v.full_name, autocomplete: 'off', errors, hint: 'Optional' })}
  <div class="actions"><button type="submit">Save the profile</button></div>
</form>
</section>

<section class="card" aria-labelledby="role-title">
<h2 id="role-title">Role</h2>
<form method="post" action="/manage/users/${user.id}/role" novalidate>
  ${csrfInput(kit.csrfToken(request, reply))}
  ${roleSelect({ name: 'role', label: 'Role', value: user.role, errors, hint: 'A new role signs the user out everywhere; a lower one is confirmed on the next page.' })}
  <div class="actions"><button type="submit">Change the role</button></div>
</form>
</section>

<section class="card" aria-labelledby="access-title">
<h2 id="access-title">Signing in</h2>
${
  user.disabled
    ? html`<p>This account is disabled: the user cannot sign in.</p>
<form method="post" action="/manage/users/${user.id}/enable">
  ${csrfInput(kit.csrfToken(request, reply))}
  <div class="actions"><button type="submit">Enable the account</button></div>
</form>`
    : html`<p>Disabling the account signs the user out everywhere, and they cannot sign in until it is enabled again.</p>
<p><a class="button secondary" href="/manage/users/${user.id}/disable">Disable the account…</a></p>`
}
${
  user.totpEnabled || user.totpSecret !== null
    ? html`<p>For a user who lost their authenticator and recovery codes: they sign in with their password alone afterwards.</p>
<p><a class="button secondary" href="/manage/users/${user.id}/reset-2fa">Reset two-factor authentication…</a></p>`
    : html`<p>Two-factor authentication is off for this user.</p>`
}
</section>

<section class="card" aria-labelledby="delete-title">
<h2 id="delete-title">Delete</h2>
<p>The account, its sessions and its pending mails go for good. The audit log keeps its events.</p>
<p><a class="button danger" href="/manage/users/${user.id}/delete">Delete the account…</a></p>
</section>

<h2 id="events">Events</h2>
<p><a href="${withQuery('/manage/audit', { user_id: user.id })}">Open these events in the audit log</a></p>
${eventTable(events.items, names, { caption: `Security events of ${user.username}, newest first`, captionId: 'events-caption', showUser: false })}
${pager('Pages of events', {
  first: after === undefined ? undefined : `/manage/users/${user.id}#events`,
  firstLabel: 'Newest events',
  next: events.next === null ? undefined : `${withQuery(`/manage/users/${user.id}`, { before: events.next })}#events`,
  nextLabel: 'Older events',
})}`;
    return kit.render(request, reply, {
      title: titleWithErrors(user.username, errors),
      main,
      status: state.status ?? (validBefore ? 200 : 400),
    });
  }

  /** The page before a destructive step: what it does, and a button that does it. */
  function confirmation(
    request: FastifyRequest,
    reply: FastifyReply,
    admin: User,
    user: User,
    step: { title: string; explain: SafeHtml; action: string; button: string; hidden?: Record<string, string>; selfNote?: string },
    failure?: { message: string; status: number },
  ) {
    const errors: FieldError[] = failure === undefined ? [] : [{ field: '', message: failure.message }];
    const hidden = Object.entries(step.hidden ?? {}).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`);
    const main = html`${nav}
<h1>${step.title}</h1>
${errorSummary(errors)}
${step.explain}
${user.id === admin.id && step.selfNote !== undefined ? notice('warning', step.selfNote) : ''}
<form method="post" action="/manage/users/${user.id}/${step.action}">
  ${csrfInput(kit.csrfToken(request, reply))}
  ${hidden}
  <div class="actions"><button type="submit" class="danger">${step.button}</button><a href="${userUrl(user)}">Cancel</a></div>
</form>`;
    return kit.render(request, reply, { title: titleWithErrors(step.title, errors), main, narrow: true, status: failure?.status });
  }

  /** The refusals an admin action can meet, on the page that asked; anything else is the error page's. */
  function refusal(error: unknown, user: User): { message: string; status: number } | null {
    if (!(error instanceof AppError)) return null;
    if (error.code === 'LAST_ADMIN') {
      return { message: `${user.username} is the last admin who can sign in: make another user an admin first.`, status: 409 };
    }
    return null;
  }

  const roleStep = (user: User, role: Role) => ({
    title: `Make ${user.username} ${aRole(role)}?`,
    explain: html`<p><strong>${user.username}</strong> is ${aRole(user.role)} now, and will be ${aRole(role)}${
      isDowngrade(user.role, role) ? html`: what only ${aRole(user.role)} may do, they no longer can` : ''
    }.</p>
<p>They are signed out everywhere at once (every browser and app) and sign in again with the new role.</p>`,
    action: 'role',
    button: `Make them ${aRole(role)}`,
    hidden: { role, confirm: 'yes' },
    selfNote: 'This is your own account: you will be signed out, and can no longer manage users.',
  });

  const disableStep = (user: User) => ({
    title: `Disable ${user.username}?`,
    explain: html`<p><strong>${user.username}</strong> is signed out everywhere at once, and cannot sign in, refresh a session or use a token until an admin enables the account again.</p>
<p>Nothing is deleted.</p>`,
    action: 'disable',
    button: 'Disable the account',
    selfNote: 'This is your own account: you will be signed out, and cannot sign in again until another admin enables it.',
  });

  const resetStep = (user: User) => ({
    title: `Reset two-factor authentication of ${user.username}?`,
    explain: html`<p>Their authenticator app and recovery codes stop working. <strong>${user.username}</strong> then signs in with their password alone, and may set two-factor authentication up again.</p>
<p>Do this only when you are sure who is asking: it removes a protection of the account.</p>`,
    action: 'reset-2fa',
    button: 'Reset two-factor authentication',
  });

  const deleteStep = (user: User) => ({
    title: `Delete ${user.username}?`,
    explain: html`<p>The account of <strong>${user.username}</strong> (${user.email}) is deleted for good, with its sessions and pending mails. It cannot be undone.</p>
<p>To stop someone signing in for a while, disable the account instead.</p>`,
    action: 'delete',
    button: 'Delete the account',
    selfNote: 'This is your own account: you will be signed out, for good.',
  });

  return async (app: FastifyInstance) => {
    kit.get(app, '/manage/users/:id', async (request, reply) => {
      const found = await adminAndTarget(request, reply);
      if (found === null) return reply;
      return detailsPage(request, reply, found.admin, found.user);
    });

    kit.post(app, '/manage/users/:id/profile', async (request, reply) => {
      const found = await adminAndTarget(request, reply);
      if (found === null) return reply;
      const { admin, user } = found;
      const values = { username: textField(request.body, 'username'), email: textField(request.body, 'email'), full_name: textField(request.body, 'full_name') };
      const missing: FieldError[] = [];
      if (values.username === '') missing.push({ field: 'username', message: 'Enter a username' });
      if (values.email === '') missing.push({ field: 'email', message: 'Enter an email address' });
      if (missing.length > 0) return detailsPage(request, reply, admin, user, { values, errors: missing, status: 422 });
      try {
        const changes = { username: values.username, email: values.email, fullName: values.full_name === '' ? null : values.full_name };
        const updated = await users.update(admin, user.id, changes, context(request));
        const same = updated.username === user.username && updated.email === user.email && updated.fullName === user.fullName;
        return kit.redirect(reply, userUrl(updated, same ? 'unchanged' : 'saved'));
      } catch (error) {
        if (error instanceof ValidationFailed) return detailsPage(request, reply, admin, user, { values, errors: fieldErrors(error), status: 422 });
        if (error instanceof AppError && error.code === 'USER_EXISTS') {
          const errors = [{ field: 'username', message: 'That username or email belongs to another account already' }];
          return detailsPage(request, reply, admin, user, { values, errors, status: 400 });
        }
        throw error;
      }
    });

    kit.get(app, '/manage/users/:id/role', async (request, reply) => {
      const found = await adminAndTarget(request, reply);
      if (found === null) return reply;
      const { admin, user } = found;
      const to = queryParam(request.query, 'to');
      if (!isRole(to)) {
        return detailsPage(request, reply, admin, user, { errors: [{ field: 'role', message: 'Choose a role from the list' }], status: 400 });
      }
      if (to === user.role) return kit.redirect(reply, userUrl(user, 'unchanged'));
      return confirmation(request, reply, admin, user, roleStep(user, to));
    });

    kit.post(app, '/manage/users/:id/role', async (request, reply) => {
      const found = await adminAndTarget(request, reply);
      if (found === null) return reply;
      const { admin, user } = found;
      const role = textField(request.body, 'role');
      if (!isRole(role)) {
        return detailsPage(request, reply, admin, user, { errors: [{ field: 'role', message: 'Choose a role from the list' }], status: 422 });
      }
      if (role === user.role) return kit.redirect(reply, userUrl(user, 'unchanged'));
      if (isDowngrade(user.role, role) && textField(request.body, 'confirm') !== 'yes') {
        return kit.redirect(reply, withQuery(`/manage/users/${user.id}/role`, { to: role }));
      }
      try {
        await users.update(admin, user.id, { role }, context(request));
      } catch (error) {
        const refused = refusal(error, user);
        if (refused === null) throw error;
        return confirmation(request, reply, admin, user, roleStep(user, role), refused);
      }
      if (user.id === admin.id) return signedOut(request, reply, `Your role is now ${ROLE_LABELS[role].toLowerCase()}.`);
      return kit.redirect(reply, userUrl(user, 'role'));
    });

    kit.get(app, '/manage/users/:id/disable', async (request, reply) => {
      const found = await adminAndTarget(request, reply);
      if (found === null) return reply;
      if (found.user.disabled) return kit.redirect(reply, userUrl(found.user, 'disabled'));
      return confirmation(request, reply, found.admin, found.user, disableStep(found.user));
    });

    kit.post(app, '/manage/users/:id/disable', async (request, reply) => {
      const found = await adminAndTarget(request, reply);
      if (found === null) return reply;
      const { admin, user } = found;
      try {
        await users.update(admin, user.id, { disabled: true }, context(request));
      } catch (error) {
        const refused = refusal(error, user);
        if (refused === null) throw error;
        return confirmation(request, reply, admin, user, disableStep(user), refused);
      }
      if (user.id === admin.id) return signedOut(request, reply, 'Your account is disabled.');
      return kit.redirect(reply, userUrl(user, 'disabled'));
    });

    kit.post(app, '/manage/users/:id/enable', async (request, reply) => {
      const found = await adminAndTarget(request, reply);
      if (found === null) return reply;
      await users.update(found.admin, found.user.id, { disabled: false }, context(request));
      return kit.redirect(reply, userUrl(found.user, 'enabled'));
    });

    kit.get(app, '/manage/users/:id/reset-2fa', async (request, reply) => {
      const found = await adminAndTarget(request, reply);
      if (found === null) return reply;
      return confirmation(request, reply, found.admin, found.user, resetStep(found.user));
    });

    kit.post(app, '/manage/users/:id/reset-2fa', async (request, reply) => {
      const found = await adminAndTarget(request, reply);
      if (found === null) return reply;
      await totp.reset(found.admin, found.user.id, context(request));
      return kit.redirect(reply, userUrl(found.user, 'mfa-reset'));
    });

    kit.get(app, '/manage/users/:id/delete', async (request, reply) => {
      const found = await adminAndTarget(request, reply);
      if (found === null) return reply;
      return confirmation(request, reply, found.admin, found.user, deleteStep(found.user));
    });

    kit.post(app, '/manage/users/:id/delete', async (request, reply) => {
      const found = await adminAndTarget(request, reply);
      if (found === null) return reply;
      const { admin, user } = found;
      try {
        await users.remove(admin, user.id, context(request));
      } catch (error) {
        if (error instanceof AppError && error.code === 'USER_NOT_FOUND') return notFound(request, reply);
        const refused = refusal(error, user);
        if (refused === null) throw error;
        return confirmation(request, reply, admin, user, deleteStep(user), refused);
      }
      if (user.id === admin.id) return signedOut(request, reply, 'Your account is deleted.');
      return kit.redirect(reply, '/manage/users?done=deleted');
    });
  };
}
