/**
 * The relying parties (apps) allowed to sign people in here: created, listed and removed by
 * admins (admin API, /manage/apps, `npm run admin -- clients`). A client is stored as the
 * provider's own Client record (oidc-adapter.ts), so the provider reads it as it is; its secret
 * is shown once, at creation, and only its hash is kept.
 */
import { randomBytes } from 'node:crypto';
import type { AuditLog, RequestContext } from '../audit/audit-log.js';
import { ValidationFailed } from '../errors.js';
import type { OidcStore } from '../store/store.js';
import { hashClientSecret } from './oidc-adapter.js';

export const OIDC_SCOPES = ['openid', 'profile', 'email', 'roles', 'offline_access'] as const;

export interface NewClient {
  name: string;
  /** Empty: a service-to-service client (client credentials only). */
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  /** public: a browser or mobile app with no secret (PKCE required); confidential: a server with a secret. */
  type: 'public' | 'confidential';
  scopes: string[];
  /** First-party app: no consent screen. */
  trusted: boolean;
  /** RS256 only for clients that verify nothing else (Moodle's plugin); needs OIDC_RSA_KEYS_FILE. */
  idTokenAlg?: 'EdDSA' | 'RS256';
}

export interface ClientView {
  clientId: string;
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  type: 'public' | 'confidential';
  scopes: string[];
  trusted: boolean;
  idTokenAlg: string;
  grantTypes: string[];
}

/** Who changes clients: an admin (id), or the command line (id null, `via` says who ran it). */
export interface Actor {
  id: string | null;
  context?: RequestContext;
  via?: Record<string, unknown>;
}

export interface OidcClients {
  /** The secret is in the answer once (confidential clients), never again. */
  create(input: NewClient, actor: Actor): Promise<ClientView & { clientSecret: string | null }>;
  list(): Promise<ClientView[]>;
  get(clientId: string): Promise<ClientView | null>;
  remove(clientId: string, actor: Actor): Promise<boolean>;
}

const MAX_CLIENTS = 1000;

/** A 422 naming the field, in the FastAPI shape every other validation error has. */
const invalid = (field: string, msg: string) => new ValidationFailed([{ loc: ['body', field], msg, type: 'value_error' }]);

export function metadataToView(m: Record<string, unknown>): ClientView {
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  return {
    clientId: String(m.client_id),
    name: typeof m.client_name === 'string' ? m.client_name : String(m.client_id),
    redirectUris: strings(m.redirect_uris),
    postLogoutRedirectUris: strings(m.post_logout_redirect_uris),
    type: m.token_endpoint_auth_method === 'none' ? 'public' : 'confidential',
    scopes: typeof m.scope === 'string' ? m.scope.split(' ') : [...OIDC_SCOPES],
    trusted: m.trusted === true,
    idTokenAlg: typeof m.id_token_signed_response_alg === 'string' ? m.id_token_signed_response_alg : 'RS256',
    grantTypes: strings(m.grant_types),
  };
}

export function createOidcClients(deps: {
  store: OidcStore;
  audit: AuditLog;
  /** The provider's own check of client metadata (Client.validate): what it refuses is refused here. */
  validate: (metadata: Record<string, unknown>) => Promise<void>;
  rsaAvailable: boolean;
}): OidcClients {
  const { store, audit } = deps;
  const now = () => new Date();

  return {
    async create(input, actor) {
      const name = input.name.trim();
      if (name === '' || name.length > 100) throw invalid('name', 'a name of 1 to 100 characters');
      const scopes = [...new Set(input.scopes)];
      const unknown = scopes.filter((s) => !(OIDC_SCOPES as readonly string[]).includes(s));
      if (unknown.length > 0) throw invalid('scopes', `unknown scope: ${unknown.join(', ')}`);
      if (input.redirectUris.length === 0 && input.type === 'public') {
        throw invalid('redirect_uris', 'a public client needs at least one redirect URI');
      }
      const alg = input.idTokenAlg ?? 'EdDSA';
      if (alg === 'RS256' && !deps.rsaAvailable) throw invalid('id_token_alg', 'RS256 needs an RSA key (OIDC_RSA_KEYS_FILE)');
      const clientId = `app_${randomBytes(12).toString('base64url')}`;
      const secret = input.type === 'confidential' ? randomBytes(32).toString('base64url') : null;
      const interactive = input.redirectUris.length > 0;
      const grantTypes = [
        ...(interactive ? ['authorization_code', 'refresh_token'] : []),
        ...(input.type === 'confidential' ? ['client_credentials'] : []),
      ];
      const metadata: Record<string, unknown> = {
        client_id: clientId,
        client_name: name,
        redirect_uris: input.redirectUris,
        post_logout_redirect_uris: input.postLogoutRedirectUris ?? [],
        response_types: interactive ? ['code'] : [],
        grant_types: grantTypes,
        token_endpoint_auth_method: secret === null ? 'none' : 'client_secret_basic',
        scope: scopes.join(' '),
        id_token_signed_response_alg: alg,
        trusted: input.trusted,
        ...(secret === null ? {} : { client_secret: secret }),
      };
      try {
        await deps.validate(metadata);
      } catch (error) {
        const message = (error as { error_description?: string }).error_description ?? (error as Error).message;
        throw invalid('client', message);
      }
      const stored = secret === null ? metadata : { ...metadata, client_secret: hashClientSecret(secret) };
      await store.upsert({ model: 'Client', id: clientId, payload: JSON.stringify(stored), grantId: null, userCode: null, uid: null, expiresAt: null });
      await audit.record('oidc.client_created', {
        actorId: actor.id,
        context: actor.context,
        detail: { client_id: clientId, name, type: input.type, trusted: input.trusted, scopes, ...actor.via },
      });
      return { ...metadataToView(metadata), clientSecret: secret };
    },

    async list() {
      const records = await store.list('Client', now(), MAX_CLIENTS);
      return records.map((r) => metadataToView(JSON.parse(r.payload) as Record<string, unknown>));
    },

    async get(clientId) {
      const record = await store.find('Client', clientId, now());
      return record === null ? null : metadataToView(JSON.parse(record.payload) as Record<string, unknown>);
    },

    async remove(clientId, actor) {
      const record = await store.find('Client', clientId, now());
      if (record === null) return false;
      await store.destroy('Client', clientId);
      await audit.record('oidc.client_deleted', { actorId: actor.id, context: actor.context, detail: { client_id: clientId, ...actor.via } });
      return true;
    },
  };
}
