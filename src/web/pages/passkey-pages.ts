/**
 * Passkeys on the pages. /account/passkeys: the user's passkeys, adding one (after a fresh sign-in:
 * /account/confirm, as for the password or 2FA), renaming and removing one (confirmed on a page of
 * its own). And the JSON routes the islands call: the ceremony options and their answers, for
 * adding (passkey-register.ts) and for signing in (passkey-sign-in.ts, on /sign-in). Each is a
 * CSRF-checked form route (the token travels in the JSON body) over the same PasskeyService as the
 * API; a WebAuthn ceremony needs script, so without it the pages say so and the password stays.
 */
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PasskeyService } from '../../auth/passkeys/passkey-service.js';
import type { SessionService } from '../../auth/sessions/session-service.js';
import { AppError } from '../../errors.js';
import { requestContext } from '../../http/request-context.js';
import type { Passkey, User } from '../../store/store.js';
import { csrfInput, errorSummary, field, type FieldError, notice, textField, titleWithErrors } from '../forms.js';
import { html, type SafeHtml } from '../html.js';
import { REAUTH_WINDOW_MS, safeNext, webContext, type WebKit } from '../web-kit.js';
import { startBrowserSession } from '../web-session.js';
import { backToAccount, waitMessage, when } from './account-views.js';

export interface PasskeyPagesDeps {
  kit: WebKit;
  passkeys: PasskeyService;
  sessions: SessionService;
}

const DONE: Record<string, string> = {
  added: 'Your passkey is added. Next time, choose "Sign in with a passkey".',
  renamed: 'The passkey is renamed.',
  removed: 'The passkey is removed: it no longer signs in to your account.',
};

/** What a refusal means to the person in front of the page. */
function sentence(error: AppError): string {
  switch (error.code) {
    case 'PASSKEY_CHALLENGE_INVALID':
      return 'That took too long, or the page was used twice. Try again.';
    case 'PASSKEY_INVALID':
      return 'That passkey was not accepted. Try again, or use another way to sign in.';
    case 'PASSKEY_EXISTS':
      return 'This passkey is added already.';
    case 'ACCOUNT_DISABLED':
      return 'This account is disabled. Ask an administrator.';
    case 'REAUTH_REQUIRED':
      return 'Confirm it is you first: reload the page.';
    default:
      return error.statusCode === 429 ? waitMessage(error) : error.detail;
  }
}

/** The JSON answer an island reads: the result, or `{detail, code}` with a sentence for people. */
async function json(reply: FastifyReply, work: () => Promise<unknown>): Promise<FastifyReply> {
  reply.header('cache-control', 'no-store');
  try {
    return reply.type('application/json').send(await work());
  } catch (error) {
    if (error instanceof AppError) {
      reply.headers(error.headers);
      return reply.code(error.statusCode).type('application/json').send({ detail: sentence(error), code: error.code });
    }
    throw error;
  }
}

/** The island's body is JSON; a form post (no script) or junk carries no ceremony. */
function ceremonyBody(body: unknown): { response: unknown; name: string; next: string } | null {
  if (typeof body !== 'object' || body === null) return null;
  const b = body as Record<string, unknown>;
  const response = b.response;
  if (typeof response !== 'object' || response === null || Array.isArray(response)) return null;
  const r = response as Record<string, unknown>;
  if (typeof r.id !== 'string' || typeof r.response !== 'object' || r.response === null) return null;
  if (JSON.stringify(response).length > 64 * 1024) return null;
  return { response, name: typeof b.name === 'string' ? b.name : '', next: safeNext(b.next) };
}

const badCeremony = () =>
  new AppError(400, 'PASSKEY_INVALID', 'The passkey could not be verified');

function passkeyFacts(p: Passkey): SafeHtml {
  return html`<dl class="facts">
    <dt>Added</dt><dd>${when(p.createdAt)}</dd>
    <dt>Last used</dt><dd>${p.lastUsedAt === null ? 'Never' : when(p.lastUsedAt)}</dd>
    <dt>Kind</dt><dd>${p.deviceType === 'multiDevice' ? `Synced between your devices${p.backedUp ? '' : ' (not backed up yet)'}` : 'Kept on this one device'}</dd>
  </dl>`;
}

export function passkeyPages(deps: PasskeyPagesDeps) {
  const { kit, passkeys, sessions } = deps;

  const fresh = (request: FastifyRequest) => {
    const session = webContext(request).session;
    return session !== null && Date.now() - session.createdAt.getTime() < REAUTH_WINDOW_MS;
  };

  async function list(request: FastifyRequest, reply: FastifyReply, user: User, state: { message?: SafeHtml; status?: number } = {}) {
    const found = await passkeys.list(user.id);
    const items = found.map(
      (p) => html`<li class="card">
  <h2>${p.name}</h2>
  ${passkeyFacts(p)}
  <p><a href="/account/passkeys/rename?id=${p.id}">Rename<span class="visually-hidden"> ${p.name}</span></a> · <a href="/account/passkeys/remove?id=${p.id}">Remove<span class="visually-hidden"> ${p.name}</span></a></p>
</li>`,
    );
    const add = fresh(request)
      ? html`<form data-passkey-register data-csrf="${kit.csrfToken(request, reply)}" hidden novalidate>
  ${field({ name: 'name', label: 'Name', autocomplete: 'off', required: true, maxlength: 64, hint: 'So you can tell your passkeys apart, e.g. "Work laptop" or "My phone"' })}
  <div class="actions"><button type="submit">Add a passkey</button></div>
</form>
<p class="passkey-status" id="passkey-status" role="status" aria-live="polite"></p>
<p data-passkey-unsupported>Adding a passkey needs JavaScript and a browser that supports passkeys.</p>`
      : html`<p>Before adding a passkey, confirm it is you: it will sign in to your account without the password.</p>
<p><a class="button" href="/account/confirm?next=%2Faccount%2Fpasskeys">Confirm it is you</a></p>`;
    const main = html`${backToAccount}
<h1>Passkeys</h1>
${state.message ?? ''}
<p>A passkey signs you in with your fingerprint, face, screen lock or phone: no password to type or to steal. It also counts as two-factor authentication.</p>
${found.length === 0 ? html`<p>You have no passkeys yet.</p>` : html`<ul class="sessions">${items}</ul>`}
<section aria-labelledby="add-title">
  <h2 id="add-title">Add a passkey</h2>
  ${add}
</section>`;
    return kit.render(request, reply, { title: 'Passkeys', main, status: state.status, islands: ['passkey-register.js'] });
  }

  async function findOwn(user: User, id: unknown): Promise<Passkey | null> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 1400) return null;
    return (await passkeys.list(user.id)).find((p) => p.id === id) ?? null;
  }

  const gone = () => notice('warning', 'That passkey is not on your account (any more): nothing to change.');

  function renameForm(request: FastifyRequest, reply: FastifyReply, p: Passkey, errors: FieldError[] = [], status = 200) {
    const main = html`<p class="back"><a href="/account/passkeys">Back to your passkeys</a></p>
<h1>Rename a passkey</h1>
${errorSummary(errors)}
<form method="post" action="/account/passkeys/rename" novalidate>
  ${csrfInput(kit.csrfToken(request, reply))}
  <input type="hidden" name="id" value="${p.id}">
  ${field({ name: 'name', label: 'Name', value: p.name, autocomplete: 'off', required: true, maxlength: 64, errors, autofocus: true })}
  <div class="actions"><button type="submit">Save the name</button><a href="/account/passkeys">Cancel</a></div>
</form>`;
    return kit.render(request, reply, { title: titleWithErrors('Rename a passkey', errors), main, narrow: true, status });
  }

  function removeForm(request: FastifyRequest, reply: FastifyReply, p: Passkey, errors: FieldError[] = [], status = 200) {
    const main = html`<p class="back"><a href="/account/passkeys">Back to your passkeys</a></p>
<h1>Remove this passkey?</h1>
${errorSummary(errors)}
<section class="card" aria-labelledby="passkey-title">
  <h2 id="passkey-title">${p.name}</h2>
  ${passkeyFacts(p)}
</section>
<p>It stops signing in to your account at once. The device may still list it: remove it there too.</p>
<form method="post" action="/account/passkeys/remove">
  ${csrfInput(kit.csrfToken(request, reply))}
  <input type="hidden" name="id" value="${p.id}">
  <div class="actions"><button type="submit" class="danger">Remove it</button><a href="/account/passkeys">Cancel</a></div>
</form>`;
    return kit.render(request, reply, { title: titleWithErrors('Remove this passkey?', errors), main, narrow: true, status });
  }

  return async (app: FastifyInstance) => {
    kit.get(app, '/account/passkeys', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const done = (request.query as Record<string, unknown>).done;
      const message = typeof done === 'string' && Object.hasOwn(DONE, done) ? notice('success', DONE[done] as string) : undefined;
      return list(request, reply, user, { message });
    });

    kit.post(app, '/account/passkeys/options', async (request, reply) => {
      const user = webContext(request).user;
      if (user === null) return json(reply, async () => { throw new AppError(401, 'NOT_AUTHENTICATED', 'Sign in again'); });
      return json(reply, async () => {
        // The browser session's start: a sign-in or a confirmation of the last 5 minutes.
        const signedInAt = webContext(request).session?.createdAt ?? new Date(0);
        return passkeys.beginRegistration(user, { signedInAt }, requestContext(request));
      });
    });

    kit.post(app, '/account/passkeys', async (request, reply) => {
      const user = webContext(request).user;
      return json(reply, async () => {
        if (user === null) throw new AppError(401, 'NOT_AUTHENTICATED', 'Sign in again');
        const body = ceremonyBody(request.body);
        if (body === null) throw badCeremony();
        await passkeys.finishRegistration(user, body.name, body.response as RegistrationResponseJSON, requestContext(request));
        return { redirect: '/account/passkeys?done=added' };
      });
    });

    kit.get(app, '/account/passkeys/rename', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const p = await findOwn(user, (request.query as Record<string, unknown>).id);
      if (p === null) return list(request, reply, user, { message: gone(), status: 404 });
      return renameForm(request, reply, p);
    });

    kit.post(app, '/account/passkeys/rename', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const p = await findOwn(user, textField(request.body, 'id'));
      if (p === null) return list(request, reply, user, { message: gone(), status: 404 });
      const name = textField(request.body, 'name');
      if (name === '' || name.length > 64) {
        return renameForm(request, reply, p, [{ field: 'name', message: name === '' ? 'Enter a name' : 'At most 64 characters' }], 422);
      }
      await passkeys.rename(user, p.id, name, requestContext(request));
      return kit.redirect(reply, '/account/passkeys?done=renamed');
    });

    kit.get(app, '/account/passkeys/remove', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const p = await findOwn(user, (request.query as Record<string, unknown>).id);
      if (p === null) return list(request, reply, user, { message: gone(), status: 404 });
      return removeForm(request, reply, p);
    });

    kit.post(app, '/account/passkeys/remove', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const p = await findOwn(user, textField(request.body, 'id'));
      if (p === null) return list(request, reply, user, { message: gone(), status: 404 });
      try {
        await passkeys.remove(user, p.id, requestContext(request));
      } catch (error) {
        if (error instanceof AppError && error.code === 'LAST_SIGN_IN_METHOD') {
          return removeForm(request, reply, p, [{ field: '', message: 'This passkey is your only way to sign in: add another passkey first.' }], 409);
        }
        throw error;
      }
      return kit.redirect(reply, '/account/passkeys?done=removed');
    });

    // Signing in (the sign-in page's island): username-less, by the button or by autofill.
    kit.post(app, '/sign-in/passkey/options', async (_request, reply) => json(reply, () => passkeys.beginAuthentication()));

    kit.post(app, '/sign-in/passkey', async (request, reply) =>
      json(reply, async () => {
        const body = ceremonyBody(request.body);
        if (body === null) throw badCeremony();
        const context = requestContext(request);
        const signedIn = await passkeys.finishAuthentication(body.response as AuthenticationResponseJSON, context, sessions.browser);
        const web = webContext(request);
        await startBrowserSession(request, reply, signedIn, async (old) => {
          if (web.user !== null) await sessions.end(web.user, old.id, context);
        });
        return { redirect: body.next };
      }),
    );
  };
}
