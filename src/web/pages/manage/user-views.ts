/**
 * The views of one user's pages (/manage/users/:id): their details with the forms an admin uses,
 * the confirmation page before a destructive step, and the pages for an unknown user and for an
 * admin who just signed themselves out. The routes are in user-pages.ts.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuditLog } from '../../../audit/audit-log.js';
import type { PasskeyService } from '../../../auth/passkeys/passkey-service.js';
import type { Passkey, Role, User } from '../../../store/store.js';
import type { UserService } from '../../../users/user-service.js';
import { csrfInput, errorSummary, field, type FieldError, notice, titleWithErrors } from '../../forms.js';
import { html, type SafeHtml } from '../../html.js';
import { errorMain, webContext, type WebKit } from '../../web-kit.js';
import { clearCookie } from '../../web-session.js';
import { eventTable, ID_RE, manageNav, type ManageNavOn, namesOf, pageOf, pager, queryParam, when, withQuery } from './manage-views.js';
import { ROLE_LABELS, roleSelect } from './users-list-pages.js';

const EVENTS_PAGE_SIZE = 20;

const RANK: Record<Role, number> = { student: 0, teacher: 1, admin: 2 };
export const isDowngrade = (from: Role, to: Role) => RANK[to] < RANK[from];
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
  'passkey-removed': 'The passkey is removed: it no longer signs in to this account.',
  'mfa-reset': 'Two-factor authentication is off for this user: they sign in with their password alone, and may set it up again.',
};

export interface DetailsState {
  values?: { username: string; email: string; full_name: string };
  errors?: FieldError[];
  status?: number;
}

/** A destructive step: what its confirmation page says, and what its form sends. */
export interface Step {
  title: string;
  explain: SafeHtml;
  action: string;
  button: string;
  hidden?: Record<string, string>;
  /** Said too when the admin is about to do it to their own account. */
  selfNote?: string;
}

export const roleStep = (user: User, role: Role): Step => ({
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

export const disableStep = (user: User): Step => ({
  title: `Disable ${user.username}?`,
  explain: html`<p><strong>${user.username}</strong> is signed out everywhere at once, and cannot sign in, refresh a session or use a token until an admin enables the account again.</p>
<p>Nothing is deleted.</p>`,
  action: 'disable',
  button: 'Disable the account',
  selfNote: 'This is your own account: you will be signed out, and cannot sign in again until another admin enables it.',
});

export const resetStep = (user: User): Step => ({
  title: `Reset two-factor authentication of ${user.username}?`,
  explain: html`<p>Their authenticator app and recovery codes stop working. <strong>${user.username}</strong> then signs in with their password alone, and may set two-factor authentication up again.</p>
<p>Do this only when you are sure who is asking: it removes a protection of the account.</p>`,
  action: 'reset-2fa',
  button: 'Reset two-factor authentication',
});

export const deleteStep = (user: User): Step => ({
  title: `Delete ${user.username}?`,
  explain: html`<p>The account of <strong>${user.username}</strong> (${user.email}) is deleted for good, with its sessions and pending mails. It cannot be undone.</p>
<p>To stop someone signing in for a while, disable the account instead.</p>`,
  action: 'delete',
  button: 'Delete the account',
  selfNote: 'This is your own account: you will be signed out, for good.',
});

export const removePasskeyStep = (user: User, passkey: Passkey): Step => ({
  title: `Remove the passkey "${passkey.name}" of ${user.username}?`,
  explain: html`<p>It stops signing in to the account of <strong>${user.username}</strong> at once. For a lost or stolen device.</p>
<p>If it was their only way in, they can still set a password with "Forgot your password?".</p>`,
  action: 'passkeys/remove',
  button: 'Remove the passkey',
  hidden: { passkey: passkey.id },
});

export const userUrl = (user: User, done?: string) => withQuery(`/manage/users/${user.id}`, { done });

export function createUserViews(deps: { kit: WebKit; users: UserService; audit: AuditLog; passkeys: PasskeyService; navOn: ManageNavOn }) {
  const { kit, users, audit } = deps;
  const nav = manageNav('users', deps.navOn);

  function notFound(request: FastifyRequest, reply: FastifyReply) {
    return kit.render(request, reply, {
      status: 404,
      title: 'No such user',
      main: errorMain('No such user', 'There is no user with this id: it may have been deleted.', { href: '/manage/users', label: 'Back to the users' }),
    });
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
    const passkeys = await deps.passkeys.list(user.id);
    const main = html`${nav}
<h1>${user.username}</h1>
${message}
${errorSummary(errors)}
<dl class="facts">
  <dt>Email</dt><dd>${user.email} <span class="muted">(${user.emailVerified ? 'confirmed' : 'not confirmed'})</span></dd>
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
<h3>Passkeys</h3>
${
  passkeys.length === 0
    ? html`<p>No passkeys.</p>`
    : html`<ul class="passkeys">${passkeys.map(
        (p) => html`<li>${p.name} <span class="muted">(added ${when(p.createdAt)}, last used ${p.lastUsedAt === null ? 'never' : when(p.lastUsedAt)})</span> <a href="/manage/users/${user.id}/passkeys/remove?passkey=${p.id}">Remove<span class="visually-hidden"> the passkey ${p.name}</span>…</a></li>`,
      )}</ul>`
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
    step: Step,
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

  return { notFound, signedOut, detailsPage, confirmation };
}
