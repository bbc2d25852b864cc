/**
 * /manage/apps: the apps that sign people in with this service (OpenID Connect clients): the list,
 * a form to register one (its secret shown once, on the page that follows), and removal. The same
 * service as /admin/oidc/clients (oidc/oidc-clients.ts); admins only, every form CSRF-checked.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ValidationFailed } from '../../../errors.js';
import { requestContext } from '../../../http/request-context.js';
import { OIDC_SCOPES, type OidcClients } from '../../../oidc/oidc-clients.js';
import { csrfInput, errorSummary, field, type FieldError, textField, titleWithErrors } from '../../forms.js';
import { html, type SafeHtml } from '../../html.js';
import type { WebKit } from '../../web-kit.js';

export function appsPages(deps: { kit: WebKit; clients: OidcClients; nav: SafeHtml }) {
  const { kit, clients, nav } = deps;

  async function listPage(request: FastifyRequest, reply: FastifyReply, errors: FieldError[] = [], status = 200) {
    const list = await clients.list();
    const token = kit.csrfToken(request, reply);
    const rows = list.map(
      (c) => html`<tr><th scope="row">${c.name}</th><td><code>${c.clientId}</code></td><td>${c.type}${c.trusted ? ', trusted' : ''}</td><td>${c.scopes.join(' ')}</td>
<td><form method="post" action="/manage/apps/${c.clientId}/delete">${csrfInput(token)}<button type="submit" class="secondary">Remove ${c.name}</button></form></td></tr>`,
    );
    const scopeBoxes = OIDC_SCOPES.map(
      (s) => html`<label class="check"><input type="checkbox" name="scope_${s}" value="on"${s === 'offline_access' ? '' : html` checked`}> ${s}</label>`,
    );
    const main = html`${nav}<h1>Apps</h1>
${errorSummary(errors)}
<p>The apps that sign people in with this service (OpenID Connect). See the guide in docs/oidc.md.</p>
${list.length === 0 ? html`<p>No app yet.</p>` : html`<table><caption>Registered apps</caption><thead><tr><th scope="col">Name</th><th scope="col">Client id</th><th scope="col">Kind</th><th scope="col">Scopes</th><th scope="col">Remove</th></tr></thead><tbody>${rows}</tbody></table>`}
<h2>Register an app</h2>
<form method="post" action="/manage/apps" novalidate>
  ${csrfInput(token)}
  ${field({ name: 'name', label: 'Name', required: true, maxlength: 100, errors })}
  <div class="field"><label for="field-redirect_uris">Redirect URIs</label><p class="hint" id="field-redirect_uris-hint">One a line; none for a service client (client credentials)</p>
  <textarea id="field-redirect_uris" name="redirect_uris" rows="3" aria-describedby="field-redirect_uris-hint"></textarea></div>
  <fieldset><legend>Kind</legend>
    <label class="check"><input type="radio" name="type" value="confidential" checked> Confidential (a server, with a secret)</label>
    <label class="check"><input type="radio" name="type" value="public"> Public (a browser or phone app, PKCE)</label>
  </fieldset>
  <fieldset><legend>Scopes it may ask for</legend>${scopeBoxes}</fieldset>
  <label class="check"><input type="checkbox" name="trusted" value="on"> Trusted first-party app (no consent screen)</label>
  <label class="check"><input type="checkbox" name="rs256" value="on"> Sign its ID tokens RS256 (Moodle)</label>
  <div class="actions"><button type="submit">Register</button></div>
</form>`;
    return kit.render(request, reply, { title: titleWithErrors('Apps', errors), main, wide: true, status });
  }

  return async (app: FastifyInstance) => {
    kit.get(app, '/manage/apps', async (request, reply) => {
      if (kit.requireAdmin(request, reply) === null) return reply;
      return listPage(request, reply);
    });

    kit.post(app, '/manage/apps', async (request, reply) => {
      const admin = kit.requireAdmin(request, reply);
      if (admin === null) return reply;
      const body = request.body;
      const on = (name: string) => textField(body, name) === 'on';
      const redirectUris = textField(body, 'redirect_uris', { keepSpaces: true })
        .split(/\r?\n/)
        .map((s) => s.trim())
        .filter(Boolean);
      try {
        const created = await clients.create(
          {
            name: textField(body, 'name'),
            redirectUris,
            type: textField(body, 'type') === 'public' ? 'public' : 'confidential',
            scopes: OIDC_SCOPES.filter((s) => on(`scope_${s}`)),
            trusted: on('trusted'),
            idTokenAlg: on('rs256') ? 'RS256' : 'EdDSA',
          },
          { id: admin.id, context: requestContext(request) },
        );
        const main = html`<h1>${created.name} is registered</h1>
<dl><dt>Client id</dt><dd><code>${created.clientId}</code></dd>
${created.clientSecret === null ? '' : html`<dt>Client secret</dt><dd><code>${created.clientSecret}</code></dd>`}</dl>
${created.clientSecret === null ? '' : html`<p><strong>Copy the secret now:</strong> it is not shown again (only its hash is kept).</p>`}
<p><a href="/manage/apps">Back to the apps</a></p>`;
        return kit.render(request, reply, { title: `${created.name} is registered`, main, narrow: true, status: 201 });
      } catch (error) {
        if (!(error instanceof ValidationFailed)) throw error;
        const errors = error.issues.map((i) => ({ field: String(i.loc[1] === 'name' ? 'name' : ''), message: `${String(i.loc[1])}: ${i.msg}` }));
        return listPage(request, reply, errors, 422);
      }
    });

    kit.post(app, '/manage/apps/:clientId/delete', async (request, reply) => {
      const admin = kit.requireAdmin(request, reply);
      if (admin === null) return reply;
      await clients.remove((request.params as { clientId: string }).clientId, { id: admin.id, context: requestContext(request) });
      return kit.redirect(reply, '/manage/apps');
    });
  };
}
