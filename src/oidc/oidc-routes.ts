/**
 * The OpenID Connect provider's HTTP side: oidc-provider mounted under /oidc (discovery at
 * /oidc/.well-known/openid-configuration, authorize, token, userinfo, JWKS, revocation,
 * introspection, end-session, registration), and the admins' API for clients,
 * /admin/oidc/clients.
 *
 * The provider is a plain Node handler: its routes are hijacked Fastify routes that hand it the
 * raw request and response, with the URL made relative to the mount point (oidc-provider reads
 * `originalUrl` to know where it is mounted). Bodies are left unread for it: this scope parses
 * nothing. POST /oidc/token is a route of its own so that its rate limit attaches by URL.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Provider } from 'oidc-provider';
import { Type } from 'typebox';
import type { Authenticator } from '../auth/authenticate.js';
import { currentUser } from '../auth/authenticate.js';
import { AppError } from '../errors.js';
import { noContent, response, withExamples } from '../http/doc-schemas.js';
import { errorResponses } from '../http/error-schemas.js';
import { requestContext } from '../http/request-context.js';
import type { ClientView, OidcClients } from './oidc-clients.js';

export const OIDC_PREFIX = '/oidc';

// Spelled out (not mapped from OIDC_SCOPES) so that the static type keeps the literals.
const ScopeSchema = Type.Union([
  Type.Literal('openid'),
  Type.Literal('profile'),
  Type.Literal('email'),
  Type.Literal('roles'),
  Type.Literal('offline_access'),
]);
const UriSchema = Type.String({ format: 'uri', maxLength: 2000 });

export const NewClientSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, examples: ['Moodle'] }),
    redirect_uris: Type.Array(UriSchema, { maxItems: 20, description: 'Where codes may be sent; empty: a service client (client credentials only)' }),
    post_logout_redirect_uris: Type.Optional(Type.Array(UriSchema, { maxItems: 20 })),
    type: Type.Union([Type.Literal('public'), Type.Literal('confidential')], {
      description: 'public: no secret, PKCE required (browser and mobile apps); confidential: a server with a secret',
    }),
    scopes: Type.Array(ScopeSchema, { minItems: 1, maxItems: 5, description: 'The scopes this client may ask for' }),
    trusted: Type.Optional(Type.Boolean({ default: false, description: 'A first-party app: no consent screen' })),
    id_token_alg: Type.Optional(
      Type.Union([Type.Literal('EdDSA'), Type.Literal('RS256')], { description: 'RS256 for clients that verify nothing else (Moodle); needs OIDC_RSA_KEYS_FILE' }),
    ),
  },
  { additionalProperties: false },
);

const ClientSchema = Type.Object(
  {
    client_id: Type.String(),
    name: Type.String(),
    redirect_uris: Type.Array(Type.String()),
    post_logout_redirect_uris: Type.Array(Type.String()),
    type: Type.String(),
    scopes: Type.Array(Type.String()),
    trusted: Type.Boolean(),
    id_token_alg: Type.String(),
    grant_types: Type.Array(Type.String()),
  },
  { title: 'OidcClient' },
);

const CreatedClientSchema = Type.Object(
  {
    ...ClientSchema.properties,
    client_secret: Type.Union([Type.String(), Type.Null()], { description: 'Shown this once (confidential clients); only its hash is kept' }),
  },
  { title: 'OidcClientCreated' },
);

const CLIENT_EXAMPLE = {
  client_id: 'app_Qm9vZGxlLXNjaG9vbC0x',
  name: 'Moodle',
  redirect_uris: ['https://moodle.school.example/auth/oidc/'],
  post_logout_redirect_uris: [],
  type: 'confidential',
  scopes: ['openid', 'profile', 'email', 'roles'],
  trusted: false,
  id_token_alg: 'RS256',
  grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
};

export const toClientResponse = (c: ClientView) => ({
  client_id: c.clientId,
  name: c.name,
  redirect_uris: c.redirectUris,
  post_logout_redirect_uris: c.postLogoutRedirectUris,
  type: c.type,
  scopes: c.scopes,
  trusted: c.trusted,
  id_token_alg: c.idTokenAlg,
  grant_types: c.grantTypes,
});

/** Hands a request to oidc-provider, as if it were mounted at OIDC_PREFIX. */
export function forwardTo(provider: Provider) {
  const handler = provider.callback();
  return (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    const raw = request.raw as typeof request.raw & { originalUrl?: string };
    const url = raw.url ?? '/';
    raw.originalUrl = url;
    raw.url = url.slice(OIDC_PREFIX.length) || '/';
    handler(raw, reply.raw);
  };
}

export function oidcProviderRoutes(deps: { provider: Provider }) {
  return async (app: Parameters<FastifyPluginAsyncTypebox>[0]) => {
    // The provider reads its own bodies (forms, JSON): nothing is parsed here.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, _payload, done) => done(null));
    const forward = forwardTo(deps.provider);
    const hidden = { schema: { hide: true } };
    app.post(`${OIDC_PREFIX}/token`, hidden, forward);
    app.route({ method: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD'], url: `${OIDC_PREFIX}/*`, ...hidden, handler: forward });
  };
}

export function oidcClientRoutes(deps: { clients: OidcClients; auth: Authenticator }): FastifyPluginAsyncTypebox {
  const { clients, auth } = deps;
  return async (app) => {
    const common = { tags: ['admin'], security: [{ bearerAuth: [] }] };
    app.get(
      '/admin/oidc/clients',
      {
        onRequest: auth.admin,
        schema: {
          ...common,
          summary: 'The OpenID Connect clients (admin)',
          description: 'The apps allowed to sign people in with this service (docs/oidc.md). Secrets are never shown again.',
          response: { 200: response('The clients', Type.Array(ClientSchema), [CLIENT_EXAMPLE]), ...errorResponses({ 403: ['ADMIN_REQUIRED'] }) },
        },
      },
      async () => (await clients.list()).map(toClientResponse),
    );

    app.post(
      '/admin/oidc/clients',
      {
        onRequest: auth.admin,
        schema: {
          ...common,
          summary: 'Registers an OpenID Connect client (admin)',
          description:
            'A confidential client gets a secret, in this answer only (only its hash is kept). A public client has none and must use PKCE (S256). ' +
            'Without redirect URIs, a confidential client is a service client: client credentials only.',
          body: withExamples(NewClientSchema, {
            name: 'Moodle',
            redirect_uris: ['https://moodle.school.example/auth/oidc/'],
            type: 'confidential',
            scopes: ['openid', 'profile', 'email', 'roles'],
            trusted: false,
            id_token_alg: 'RS256',
          }),
          response: {
            201: response('The client, with its secret this once', CreatedClientSchema, {
              ...CLIENT_EXAMPLE,
              client_secret: 'bXktc2VjcmV0LXNob3duLW9uY2UtYW5kLW5ldmVyLWFnYWlu',
            }), ...errorResponses({ 403: ['ADMIN_REQUIRED'] }) },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const created = await clients.create(
          {
            name: body.name,
            redirectUris: body.redirect_uris,
            postLogoutRedirectUris: body.post_logout_redirect_uris,
            type: body.type,
            scopes: body.scopes,
            trusted: body.trusted ?? false,
            idTokenAlg: body.id_token_alg,
          },
          { id: currentUser(request).id, context: requestContext(request) },
        );
        return reply.code(201).send({ ...toClientResponse(created), client_secret: created.clientSecret });
      },
    );

    app.delete(
      '/admin/oidc/clients/:client_id',
      {
        onRequest: auth.admin,
        schema: {
          ...common,
          summary: 'Removes an OpenID Connect client (admin)',
          description: 'The app can no longer sign anyone in nor use its tokens at the token, userinfo or introspection endpoints.',
          params: Type.Object({ client_id: Type.String({ minLength: 1, maxLength: 100 }) }),
          response: {
            204: noContent('Removed'),
            ...errorResponses({ 403: ['ADMIN_REQUIRED'], 404: ['OIDC_CLIENT_NOT_FOUND'] }),
          },
        },
      },
      async (request, reply) => {
        const removed = await clients.remove(request.params.client_id, { id: currentUser(request).id, context: requestContext(request) });
        if (!removed) throw new AppError(404, 'OIDC_CLIENT_NOT_FOUND', 'No OpenID Connect client has this id');
        return reply.code(204).send(null);
      },
    );
  };
}
