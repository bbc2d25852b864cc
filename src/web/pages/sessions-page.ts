/**
 * /account/sessions: where the account is signed in, browsers and apps alike (GET /auth/sessions),
 * signing one of them out (DELETE /auth/sessions/{id}) and signing out everywhere, this browser too
 * (POST /auth/logout-all). Both end sessions at once: the next page that browser asks for, or the
 * next request that app makes, is refused. Each has a confirmation page (a form, no script).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SessionService } from '../../auth/sessions/session-service.js';
import { AppError } from '../../errors.js';
import { requestContext } from '../../http/request-context.js';
import type { Session, User } from '../../store/store.js';
import { csrfInput, notice, textField } from '../forms.js';
import { html, type SafeHtml } from '../html.js';
import { webContext, type WebKit } from '../web-kit.js';
import { clearCookie } from '../web-session.js';
import { backToAccount, describeDevice, when } from './account-views.js';

export interface SessionsPageDeps {
  kit: WebKit;
  sessions: SessionService;
}

const SESSION_ID_RE = /^[0-9a-f]{24}$/;

const KIND_NAMES: Record<Session['kind'], string> = { browser: 'Web browser', api: 'App or script (API tokens)' };

function facts(session: Session): SafeHtml {
  return html`<dl class="facts">
    <dt>Kind</dt><dd>${KIND_NAMES[session.kind]}</dd>
    <dt>IP address</dt><dd>${session.ip ?? 'Unknown'}</dd>
    <dt>Signed in</dt><dd>${when(session.createdAt)}</dd>
    <dt>Last used</dt><dd>${when(session.lastUsedAt)}</dd>
    <dt>User agent</dt><dd class="mono small">${session.userAgent ?? 'None sent'}</dd>
  </dl>`;
}

export function sessionsPage(deps: SessionsPageDeps) {
  const { kit, sessions } = deps;

  async function list(request: FastifyRequest, reply: FastifyReply, user: User, message?: SafeHtml, status = 200) {
    const current = webContext(request).session?.id;
    const found = (await sessions.list(user)).sort(
      (a, b) => Number(b.id === current) - Number(a.id === current) || b.lastUsedAt.getTime() - a.lastUsedAt.getTime(),
    );
    const items = found.map(
      (s) => html`<li class="card">
  <h2>${describeDevice(s.userAgent)}${s.id === current ? html` <span class="tag">This browser</span>` : ''}</h2>
  ${facts(s)}
  ${s.id === current
    ? html`<p class="muted">To sign out here, use Sign out at the top of the page.</p>`
    : html`<p><a href="/account/sessions/end?session=${s.id}">Sign out this device<span class="visually-hidden"> (${describeDevice(s.userAgent)}, last used ${when(s.lastUsedAt)})</span></a></p>`}
</li>`,
    );
    const main = html`${backToAccount}
<h1>Where you are signed in</h1>
${message ?? ''}
<p>Every browser and app signed in to your account. Do not recognise one? Sign it out, then change your password.</p>
<ul class="sessions">${items}</ul>
<section aria-labelledby="everywhere-title">
  <h2 id="everywhere-title">Sign out everywhere</h2>
  <p>Lost a phone, or signed in on a shared computer? Sign out every browser and app at once, this one too.</p>
  <p><a class="button secondary" href="/account/sessions/everywhere">Sign out everywhere</a></p>
</section>`;
    return kit.render(request, reply, { title: 'Where you are signed in', main, status });
  }

  /** The session `id` names among the user's live ones, if any. */
  async function findSession(user: User, id: unknown): Promise<Session | null> {
    if (typeof id !== 'string' || !SESSION_ID_RE.test(id)) return null;
    return (await sessions.list(user)).find((s) => s.id === id) ?? null;
  }

  const gone = () => notice('warning', 'That device is not signed in any more (or never was): nothing to sign out.');

  return async (app: FastifyInstance) => {
    kit.get(app, '/account/sessions', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const ended = (request.query as Record<string, unknown>).ended === '1';
      return list(request, reply, user, ended ? notice('success', 'That device is signed out.') : undefined);
    });

    kit.get(app, '/account/sessions/end', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const session = await findSession(user, (request.query as Record<string, unknown>).session);
      if (session === null) return list(request, reply, user, gone(), 404);
      const here = session.id === webContext(request).session?.id;
      const main = html`<p class="back"><a href="/account/sessions">Back to where you are signed in</a></p>
<h1>Sign out this device?</h1>
<section class="card" aria-labelledby="device-title">
  <h2 id="device-title">${describeDevice(session.userAgent)}${here ? html` <span class="tag">This browser</span>` : ''}</h2>
  ${facts(session)}
</section>
<p>${here ? 'You will be signed out here.' : 'It is signed out at once: its next page or request asks to sign in again.'}</p>
<form method="post" action="/account/sessions/end">
  ${csrfInput(kit.csrfToken(request, reply))}
  <input type="hidden" name="session" value="${session.id}">
  <div class="actions"><button type="submit" class="danger">Sign it out</button><a href="/account/sessions">Cancel</a></div>
</form>`;
      return kit.render(request, reply, { title: 'Sign out this device?', main, narrow: true });
    });

    kit.post(app, '/account/sessions/end', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const id = textField(request.body, 'session');
      if (!SESSION_ID_RE.test(id)) return list(request, reply, user, gone(), 404);
      try {
        await sessions.revoke(user, id, requestContext(request));
      } catch (error) {
        if (error instanceof AppError && error.code === 'SESSION_NOT_FOUND') return list(request, reply, user, gone(), 404);
        throw error;
      }
      if (id === webContext(request).session?.id) {
        clearCookie(request, reply, 'sid');
        return kit.redirect(reply, '/?signed-out=1');
      }
      return kit.redirect(reply, '/account/sessions?ended=1');
    });

    kit.get(app, '/account/sessions/everywhere', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const count = (await sessions.list(user)).length;
      const main = html`<p class="back"><a href="/account/sessions">Back to where you are signed in</a></p>
<h1>Sign out everywhere?</h1>
<p>${count === 1 ? 'Only this browser is signed in: it' : `All ${count} browsers and apps signed in to your account, this one too,`} will be signed out at once. You can sign in again with your password.</p>
<form method="post" action="/account/sessions/everywhere">
  ${csrfInput(kit.csrfToken(request, reply))}
  <div class="actions"><button type="submit" class="danger">Sign out everywhere</button><a href="/account/sessions">Cancel</a></div>
</form>`;
      return kit.render(request, reply, { title: 'Sign out everywhere?', main, narrow: true });
    });

    kit.post(app, '/account/sessions/everywhere', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      await sessions.logoutAll(user, requestContext(request));
      clearCookie(request, reply, 'sid');
      return kit.redirect(reply, '/sign-in?signed-out-everywhere=1');
    });
  };
}
