/**
 * The OpenID Connect capability wired in one place (app.ts calls this): the provider, the client
 * service over it, and their routes.
 */
import type { AuditLog } from '../audit/audit-log.js';
import type { Authenticator } from '../auth/authenticate.js';
import type { SessionService } from '../auth/sessions/session-service.js';
import { deriveSecret, type KeySet } from '../auth/tokens/keys.js';
import type { Config } from '../config.js';
import type { Store } from '../store/store.js';
import { createOidcClients } from './oidc-clients.js';
import { createOidcConsents } from './oidc-consents.js';
import { createOidcProvider } from './oidc-provider.js';
import { oidcClientRoutes, oidcProviderRoutes } from './oidc-routes.js';

export function createOidc(deps: {
  config: Config;
  oidc: NonNullable<Config['oidc']>;
  store: Store;
  keys: KeySet;
  sessions: SessionService;
  audit: AuditLog;
}) {
  const consents = createOidcConsents(deps.store.oidc);
  const { provider, rsaAvailable } = createOidcProvider({
    issuer: deps.oidc.issuer,
    store: deps.store,
    consents,
    keys: deps.keys,
    rsaKeys: deps.oidc.rsaKeys,
    cookieSecret: deriveSecret(deps.keys, 'oidc-cookies'),
    sessions: deps.sessions,
    audit: deps.audit,
    registrationToken: deps.oidc.registrationToken,
    trustProxy: deps.config.trustProxy !== false,
    browserSessionTtlSeconds: deps.config.jwt.browserSessionTtlSeconds,
  });
  const validate = async (metadata: Record<string, unknown>) => {
    await (provider.Client as unknown as { validate(m: Record<string, unknown>): Promise<unknown> }).validate(metadata);
  };
  const clients = createOidcClients({ store: deps.store.oidc, audit: deps.audit, validate, rsaAvailable });
  return {
    provider,
    clients,
    consents,
    providerRoutes: oidcProviderRoutes({ provider }),
    clientRoutes: (auth: Authenticator) => oidcClientRoutes({ clients, auth }),
  };
}
