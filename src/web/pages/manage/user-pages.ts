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
import type { User } from '../../../store/store.js';
import { type FieldError, textField } from '../../forms.js';
import { fieldErrors } from '../sign-in-pages.js';
import type { ManageDeps } from './manage-pages.js';
import { ID_RE, queryParam, withQuery } from './manage-views.js';
import { createUserViews, deleteStep, disableStep, isDowngrade, removePasskeyStep, resetStep, roleStep, userUrl } from './user-views.js';
import { isRole, ROLE_LABELS } from './users-list-pages.js';

export function userPages(deps: ManageDeps) {
  const { kit, users, totp } = deps;
  const context = requestContext;
  const { notFound, signedOut, detailsPage, confirmation } = createUserViews({ ...deps, navOn: { outbox: deps.outbox !== null, apps: deps.appsOn } });

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

  /** The refusals an admin action can meet, on the page that asked; anything else is the error page's. */
  function refusal(error: unknown, user: User): { message: string; status: number } | null {
    if (!(error instanceof AppError)) return null;
    if (error.code === 'LAST_ADMIN') {
      return { message: `${user.username} is the last admin who can sign in: make another user an admin first.`, status: 409 };
    }
    return null;
  }

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

    // A lost or stolen device's passkey (the rule on what may be removed is the service's).
    const passkeyOf = async (user: User, id: unknown) =>
      typeof id === 'string' && id !== '' ? ((await deps.passkeys.list(user.id)).find((p) => p.id === id) ?? null) : null;

    kit.get(app, '/manage/users/:id/passkeys/remove', async (request, reply) => {
      const found = await adminAndTarget(request, reply);
      if (found === null) return reply;
      const passkey = await passkeyOf(found.user, (request.query as Record<string, unknown>).passkey);
      if (passkey === null) return kit.redirect(reply, userUrl(found.user));
      return confirmation(request, reply, found.admin, found.user, removePasskeyStep(found.user, passkey));
    });

    kit.post(app, '/manage/users/:id/passkeys/remove', async (request, reply) => {
      const found = await adminAndTarget(request, reply);
      if (found === null) return reply;
      const passkey = await passkeyOf(found.user, textField(request.body, 'passkey'));
      if (passkey !== null) await deps.passkeys.remove(found.user, passkey.id, context(request), found.admin);
      return kit.redirect(reply, userUrl(found.user, 'passkey-removed'));
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
