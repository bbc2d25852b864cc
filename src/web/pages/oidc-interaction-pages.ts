/**
 * /interaction/:uid: where the OpenID Connect provider (oidc/) sends a browser that must sign in
 * or consent before an app gets its code. Sign-in is the web front's own page (/sign-in, with its
 * TOTP step, locks and limits), so whoever is signed in here is signed in for every app (single
 * sign-on); the consent page asks once per person and client, and trusted clients skip it.
 *
 * The last step to the app is a "Continue" page that moves on by itself rather than a redirect:
 * after a form post, Chrome applies the page's `form-action 'self'` to the whole redirect chain,
 * and the chain ends at the app's own address.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { InteractionDetails, Provider } from 'oidc-provider';
import type { AuditLog } from '../../audit/audit-log.js';
import { requestContext } from '../../http/request-context.js';
import type { ClientView, OidcClients } from '../../oidc/oidc-clients.js';
import type { OidcConsents } from '../../oidc/oidc-consents.js';
import type { User } from '../../store/store.js';
import { csrfInput, textField } from '../forms.js';
import { html } from '../html.js';
import { errorMain, webContext, type WebKit } from '../web-kit.js';

export interface OidcInteractionDeps {
  kit: WebKit;
  provider: Provider;
  clients: OidcClients;
  consents: OidcConsents;
  audit: AuditLog;
}

const SCOPE_WORDS: Record<string, string> = {
  openid: 'Know who you are (your account id)',
  profile: 'Your name and username',
  email: 'Your email address, and whether it is verified',
  roles: 'Your role (student, teacher or admin)',
  offline_access: 'Stay connected when you are not using it',
};

export function oidcInteractionPages(deps: OidcInteractionDeps) {
  const { kit, provider, clients } = deps;

  async function details(request: FastifyRequest, reply: FastifyReply): Promise<InteractionDetails | null> {
    try {
      const found = await provider.interactionDetails(request.raw, reply.raw);
      const uid = (request.params as { uid: string }).uid;
      return found.uid === uid ? found : null;
    } catch {
      return null;
    }
  }

  function expired(request: FastifyRequest, reply: FastifyReply) {
    return kit.render(request, reply, {
      status: 400,
      title: 'Sign-in request expired',
      main: errorMain('This sign-in request has expired', 'Go back to the app and sign in again from there.'),
    });
  }

  async function finish(request: FastifyRequest, reply: FastifyReply, result: Record<string, unknown>, clientName: string) {
    const to = await provider.interactionResult(request.raw, reply.raw, result, { mergeWithLastSubmission: true });
    reply.header('refresh', `0;url=${to}`);
    return kit.render(request, reply, {
      title: `Continue to ${clientName}`,
      main: html`<h1>Continue to ${clientName}</h1><p><a href="${to}" id="continue">Continue</a></p>`,
      narrow: true,
    });
  }

  /** Grants what the app asked for, remembers it for this person and client, and moves on. */
  async function allow(request: FastifyRequest, reply: FastifyReply, found: InteractionDetails, client: ClientView, user: User) {
    const context = requestContext(request);
    const grant = found.grantId === undefined ? new provider.Grant({ accountId: user.id, clientId: client.clientId }) : await provider.Grant.find(found.grantId);
    if (grant === undefined) return expired(request, reply);
    const missing = found.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    if (missing.missingOIDCScope !== undefined) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims !== undefined) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '));
    const grantId = await grant.save();
    // Remembered for this person and client, whichever browser asks next (oidc-consents.ts).
    await deps.consents.remember(user.id, client.clientId, grantId);
    await deps.audit.record('oidc.consent_granted', { userId: user.id, context, detail: { client_id: client.clientId, scopes: missing.missingOIDCScope ?? [] } });
    return finish(request, reply, { consent: { grantId } }, client.name);
  }

  return async (app: FastifyInstance) => {
    kit.get(app, '/interaction/:uid', async (request, reply) => {
      const found = await details(request, reply);
      if (found === null) return expired(request, reply);
      const client = await clients.get(found.params.client_id);
      if (client === null) return expired(request, reply);
      const user = webContext(request).user;
      if (found.prompt.name === 'login') {
        if (user === null) return kit.redirect(reply, `/sign-in?next=${encodeURIComponent(`/interaction/${found.uid}`)}`);
        return finish(request, reply, { login: { accountId: user.id } }, client.name);
      }
      if (user === null || found.session?.accountId !== user.id) {
        // Signed out (or in as someone else) meanwhile: sign in again.
        return kit.redirect(reply, `/sign-in?next=${encodeURIComponent(`/interaction/${found.uid}`)}`);
      }
      // A trusted (first-party) app never shows the consent page, even when asked to (prompt=consent).
      if (client.trusted) return allow(request, reply, found, client, user);
      const requested = String(found.params.scope ?? 'openid').split(' ').filter((s) => SCOPE_WORDS[s] !== undefined);
      const main = html`<h1>Allow ${client.name} to sign you in?</h1>
<p>${client.name} asks for:</p>
<ul>${requested.map((s) => html`<li>${SCOPE_WORDS[s] ?? s}</li>`)}</ul>
<p>You are signed in as <strong>${user.username}</strong>. You will not be asked again for this app.</p>
<form method="post" action="/interaction/${found.uid}">
  ${csrfInput(kit.csrfToken(request, reply))}
  <div class="actions"><button type="submit" name="decision" value="allow">Allow</button><button type="submit" name="decision" value="deny" class="secondary">Deny</button></div>
</form>`;
      return kit.render(request, reply, { title: `Allow ${client.name}?`, main, narrow: true });
    });

    kit.post(app, '/interaction/:uid', async (request, reply) => {
      const found = await details(request, reply);
      if (found === null) return expired(request, reply);
      const client = await clients.get(found.params.client_id);
      const user = webContext(request).user;
      if (client === null || found.prompt.name !== 'consent') return expired(request, reply);
      if (user === null || found.session?.accountId !== user.id) {
        return kit.redirect(reply, `/sign-in?next=${encodeURIComponent(`/interaction/${found.uid}`)}`);
      }
      const context = requestContext(request);
      if (textField(request.body, 'decision') !== 'allow') {
        await deps.audit.record('oidc.consent_denied', { userId: user.id, context, detail: { client_id: client.clientId } });
        return finish(request, reply, { error: 'access_denied', error_description: 'The person did not allow it' }, client.name);
      }
      return allow(request, reply, found, client, user);
    });
  };
}
