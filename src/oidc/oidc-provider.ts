/**
 * The OpenID Connect provider: oidc-provider (the certified Node implementation) configured for
 * this service. What it allows is deliberately narrow (docs/oidc.md):
 * - only the authorization code flow (no implicit, no hybrid), PKCE S256 required of public
 *   clients (oidc-provider knows no `plain`); refresh tokens rotate at every use; client
 *   credentials for service-to-service; revocation, introspection, RP-initiated logout;
 * - ID tokens signed EdDSA with the service's own Ed25519 keys (the JWKS it already publishes),
 *   or RS256 with an RSA key for the clients that verify nothing else (Moodle); never `none`;
 * - people sign in on the web front's pages (oidc-interaction-pages.ts): the browser's session is
 *   the single sign-on, and the provider's own session counts only while that browser session is
 *   alive for the same person (a revoked or signed-out session signs in again); disabled users
 *   get no token, no userinfo and no refresh (findAccount).
 */
import { createPrivateKey, createPublicKey, type JsonWebKey as NodeJsonWebKey, randomBytes, timingSafeEqual } from 'node:crypto';
import Provider, { type ClientInstance, interactionPolicy, type KoaContextish } from 'oidc-provider';
import type { AuditLog } from '../audit/audit-log.js';
import type { SessionService } from '../auth/sessions/session-service.js';
import type { KeySet } from '../auth/tokens/keys.js';
import type { Store, User } from '../store/store.js';
import { cookieName } from '../web/web-session.js';
import { createAdapterFactory, hashClientSecret } from './oidc-adapter.js';
import { OIDC_SCOPES } from './oidc-clients.js';
import type { OidcConsents } from './oidc-consents.js';

export interface OidcProviderOptions {
  issuer: string;
  store: Store;
  /** Consent remembered per person and client (oidc-consents.ts). */
  consents: OidcConsents;
  keys: KeySet;
  /** Private RSA JWKs as JSON (OIDC_RSA_KEYS_FILE), or null. */
  rsaKeys: string | null;
  /** Secret for the provider's signed cookies (derived from the token keys: the same on every instance). */
  cookieSecret: Buffer;
  sessions: Pick<SessionService, 'browserSession' | 'end'>;
  audit: AuditLog;
  registrationToken: string | null;
  /** Behind a proxy (TRUST_PROXY): X-Forwarded-Proto says whether the request was https. */
  trustProxy: boolean;
  browserSessionTtlSeconds: number;
}

const DAY = 24 * 3600;

/** Parses OIDC_RSA_KEYS_FILE: a JSON array (or JWKS) of private RSA JWKs with kids. Never quotes the text. */
export function parseRsaKeys(json: string): Record<string, unknown>[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error('OIDC_RSA_KEYS_FILE: not valid JSON (npm run keys -- generate --rsa --out FILE)');
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(list) || list.length === 0) throw new Error('OIDC_RSA_KEYS_FILE: expected a non-empty array of private RSA JWKs');
  return list.map((raw, i) => {
    const jwk = raw as Record<string, unknown>;
    if (jwk?.kty !== 'RSA' || typeof jwk.d !== 'string' || typeof jwk.kid !== 'string') {
      throw new Error(`OIDC_RSA_KEYS_FILE: key ${i} is not a private RSA JWK with "kid"`);
    }
    try {
      createPublicKey(createPrivateKey({ key: jwk as NodeJsonWebKey, format: 'jwk' }));
    } catch {
      throw new Error(`OIDC_RSA_KEYS_FILE: key ${i} (kid ${String(jwk.kid)}) is not a valid RSA private key`);
    }
    return { ...jwk, alg: 'RS256', use: 'sig' };
  });
}

/** The Ed25519 token keys as private JWKs for the provider's key set (same kids as /.well-known/jwks.json). */
function edJwks(keys: KeySet): Record<string, unknown>[] {
  return [...keys.verifying.values()].map((k) => ({ ...(k.privateKey.export({ format: 'jwk' }) as object), kid: k.kid, alg: 'EdDSA', use: 'sig' }));
}

export function userClaims(user: User): Record<string, unknown> {
  return {
    sub: user.id,
    email: user.email,
    email_verified: user.emailVerified,
    preferred_username: user.username,
    name: user.fullName ?? user.username,
    role: user.role,
  };
}

export function createOidcProvider(options: OidcProviderOptions): { provider: Provider; rsaAvailable: boolean } {
  const { store, audit } = options;
  const rsa = options.rsaKeys === null ? [] : parseRsaKeys(options.rsaKeys);
  const ed = edJwks(options.keys);
  // The first key of the set is the default signer: EdDSA when the service has Ed25519 keys.
  const jwks = [...ed, ...rsa];
  if (jwks.length === 0) throw new Error('OpenID Connect needs a signing key: Ed25519 (JWT_SIGNING_KEYS) or RSA (OIDC_RSA_KEYS_FILE)');
  const algs = [...(ed.length > 0 ? ['EdDSA'] : []), ...(rsa.length > 0 ? ['RS256'] : [])];

  /** The person the browser is signed in as on the web front, if that session is alive. */
  async function browserUser(ctx: KoaContextish): Promise<User | null> {
    const secure = options.issuer.startsWith('https:');
    const token = ctx.cookies.get(cookieName('sid', secure), { signed: false });
    if (token === undefined || token === '') return null;
    const found = await options.sessions.browserSession(token);
    return found?.user ?? null;
  }

  const policy = interactionPolicy.base();
  // The provider's session stands only while the web front's session does, for the same person:
  // signing out, logout-all, a revoked session or a disabled account all mean signing in again.
  policy.get('login')?.checks.add(
    new interactionPolicy.Check('browser_session', 'The browser session ended', async (ctx) => {
      const accountId = ctx.oidc.session?.accountId;
      if (accountId === undefined) return false; // no_session asks already
      const user = await browserUser(ctx);
      return user === null || user.id !== accountId;
    }),
  );

  const configuration: Record<string, unknown> = {
    adapter: createAdapterFactory(store.oidc),
    clients: [],
    jwks: { keys: jwks },
    cookies: { keys: [options.cookieSecret.toString('base64url')] },
    async findAccount(_ctx: unknown, sub: string) {
      const user = await store.findUserById(sub);
      if (user === null || user.disabled) return undefined;
      return { accountId: sub, claims: async () => userClaims(user) };
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'name'],
      roles: ['role'],
    },
    scopes: [...OIDC_SCOPES],
    responseTypes: ['code'],
    pkce: { required: (_ctx: unknown, client: ClientInstance) => client.clientAuthMethod === 'none' },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    enabledJWA: {
      idTokenSigningAlgValues: algs,
      userinfoSigningAlgValues: algs,
      introspectionSigningAlgValues: algs,
      authorizationSigningAlgValues: algs,
      requestObjectSigningAlgValues: algs,
      clientAuthSigningAlgValues: algs,
    },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: algs[0],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    extraClientMetadata: {
      properties: ['trusted'],
      validator(ctx: KoaContextish | undefined, key: string, value: unknown, metadata: Record<string, unknown>) {
        if (key !== 'trusted') return;
        // Only an admin marks a client trusted: a self-registered one (RFC 7591) never is.
        if (ctx?.oidc?.route === 'registration') metadata.trusted = false;
        else if (value !== undefined && typeof value !== 'boolean') throw new Error('trusted must be a boolean');
      },
    },
    features: {
      devInteractions: { enabled: false },
      // A client revokes only its own tokens.
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx: unknown, client: ClientInstance, token: { clientId?: string }) => token.clientId === client.clientId,
      },
      // A confidential client (a school service acting as a resource server) may introspect any
      // token; a public one only its own.
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx: unknown, client: ClientInstance, token: { clientId?: string }) =>
          client.clientAuthMethod !== 'none' || token.clientId === client.clientId,
      },
      clientCredentials: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      registration:
        options.registrationToken === null
          ? { enabled: false }
          : {
              enabled: true,
              initialAccessToken: options.registrationToken,
              // Registered clients are never trusted: only an admin marks a client so.
              idFactory: () => `app_${randomBytes(12).toString('base64url')}`,
            },
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}`, policy },
    async loadExistingGrant(ctx: KoaContextish) {
      const oidc = ctx.oidc as KoaContextish['oidc'] & { result?: { consent?: { grantId?: string } } };
      const client = oidc.client as ClientInstance;
      const accountId = oidc.session?.accountId;
      if (accountId === undefined) return undefined;
      const user = await store.findUserById(accountId);
      if (user === null || user.disabled) return undefined;
      const provider = oidc.provider as Provider;
      // The consent given now, the one this browser's session holds, or the one remembered for
      // this person and client (consent is per client, not per browser).
      let grantId = oidc.result?.consent?.grantId ?? oidc.session?.grantIdFor(client.clientId);
      grantId ??= (await options.consents.grantOf(accountId, client.clientId)) ?? undefined;
      const grant = grantId === undefined ? undefined : await provider.Grant.find(grantId);
      if (grant !== undefined && grant.accountId === accountId && grant.clientId === client.clientId) return grant;
      if (client.trusted === true) {
        // First-party apps: no consent screen; their grant covers what they are allowed.
        const fresh = new provider.Grant({ accountId, clientId: client.clientId });
        fresh.addOIDCScope(client.scope ?? OIDC_SCOPES.join(' '));
        await fresh.save();
        return fresh;
      }
      return undefined;
    },
    // Every refresh hands out a new refresh token; reusing an old one fails (and revokes the grant).
    rotateRefreshToken: () => true,
    ttl: {
      AccessToken: 15 * 60,
      AuthorizationCode: 60,
      ClientCredentials: 15 * 60,
      IdToken: 3600,
      Interaction: 15 * 60,
      Grant: 365 * DAY,
      Session: options.browserSessionTtlSeconds,
      RefreshToken: 30 * DAY,
    },
    async renderError(ctx: KoaContextish, out: { error: string; error_description?: string }) {
      ctx.type = 'html';
      ctx.body = simplePage('Sign-in could not continue', `<p>${escape(out.error_description ?? out.error)}</p><p>Go back to the app and try again.</p>`);
    },
  };

  const provider = new Provider(options.issuer, configuration);
  provider.proxy = options.trustProxy;

  // Secrets are stored hashed (oidc-adapter.ts): compare the hash of what the client sent.
  const clientPrototype = provider.Client.prototype;
  clientPrototype.compareClientSecret = function compareClientSecret(this: ClientInstance, actual: string) {
    const stored = Buffer.from(String(this.clientSecret ?? ''));
    const given = Buffer.from(hashClientSecret(actual));
    return stored.length === given.length && timingSafeEqual(stored, given);
  };

  // Signing out of the provider (RP-initiated logout, "Yes, sign out") ends the web front's session
  // too: otherwise the next app would be signed in again at once by that session (single sign-on).
  provider.use(async (ctx: KoaContextish, next: () => Promise<void>) => {
    await next();
    if (ctx.oidc?.route !== 'end_session_confirm' || !ctx.oidc.params?.logout) return;
    const secure = options.issuer.startsWith('https:');
    const name = cookieName('sid', secure);
    const token = ctx.cookies.get(name, { signed: false });
    if (token === undefined || token === '') return;
    const found = await options.sessions.browserSession(token);
    if (found !== null) await options.sessions.end(found.user, found.session.id, { ip: ctx.ip ?? null, userAgent: ctx.get('user-agent') || null });
    ctx.cookies.set(name, '', { path: '/', httpOnly: true, sameSite: 'lax', secure, expires: new Date(0), signed: false, overwrite: true });
  });

  const failed = (kind: string) => (ctx: KoaContextish | undefined, error: Error & { error?: string; error_description?: string }) => {
    const client = ctx?.oidc?.client as ClientInstance | undefined;
    void audit.record('oidc.token_failed', {
      context: ctx === undefined ? undefined : { ip: ctx.ip ?? null, userAgent: ctx.get?.('user-agent') || null },
      detail: { endpoint: kind, error: error.error ?? error.name, description: error.error_description ?? null, client_id: client?.clientId ?? null },
    });
  };
  provider.on('grant.error', failed('token') as never);
  provider.on('introspection.error', failed('introspection') as never);
  provider.on('revocation.error', failed('revocation') as never);
  provider.on('userinfo.error', failed('userinfo') as never);

  return { provider, rsaAvailable: rsa.length > 0 };
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The provider's own few pages (errors, logout), plain and without outside fonts or scripts. */
function simplePage(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title)}</title></head><body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;
}

async function logoutSource(ctx: KoaContextish, form: string) {
  ctx.type = 'html';
  ctx.body = simplePage(
    'Sign out',
    `${form}<p>Do you want to sign out of this service too?</p><p><button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Yes, sign out</button> <button type="submit" form="op.logoutForm">No, stay signed in</button></p>`,
  );
}

async function postLogoutSuccessSource(ctx: KoaContextish) {
  ctx.type = 'html';
  ctx.body = simplePage('Signed out', '<p>You are signed out of the app.</p><p><a href="/">Go to the start page</a></p>');
}
