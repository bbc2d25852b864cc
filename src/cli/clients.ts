/**
 * `npm run admin -- clients add|list|remove`: the OpenID Connect clients (apps) from a script,
 * through the same rules as the admin API (oidc/oidc-clients.ts, checked by the provider's own
 * metadata validation). The secret of a new confidential client is printed once, on stdout.
 */
import { createAuditLog } from '../audit/audit-log.js';
import { deriveSecret, resolveKeySet } from '../auth/tokens/keys.js';
import { loadConfig } from '../config.js';
import { ValidationFailed } from '../errors.js';
import { createOidcClients, OIDC_SCOPES } from '../oidc/oidc-clients.js';
import { createOidcConsents } from '../oidc/oidc-consents.js';
import { createOidcProvider } from '../oidc/oidc-provider.js';
import { openStore } from '../store/open.js';

export interface ClientsOptions {
  name?: string;
  'redirect-uri'?: string[];
  scope?: string[];
  public?: boolean;
  trusted?: boolean;
  rs256?: boolean;
}

const CLIENTS_USAGE = `Usage:
  npm run admin -- clients add --name <name> [--redirect-uri <uri>]... [--public] [--trusted]
                               [--scope <scope>]... [--rs256]
  npm run admin -- clients list
  npm run admin -- clients remove <client_id>
Scopes: ${OIDC_SCOPES.join(' ')} (default: all but offline_access).
`;

function usage(problem: string): number {
  process.stderr.write(`${problem}\n\n${CLIENTS_USAGE}`);
  return 2;
}

export async function clientsCommand(args: string[], options: ClientsOptions, actor: Record<string, unknown>): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'add' && sub !== 'list' && sub !== 'remove') return usage(sub === undefined ? 'Missing: add, list or remove' : `Unknown: clients ${sub}`);
  if (sub === 'add' && options.name === undefined) return usage('clients add needs --name');
  if (sub === 'remove' && rest.length !== 1) return usage('clients remove needs one client id');
  if (sub !== 'remove' && rest.length > 0) return usage(`Unexpected argument: ${rest[0]}`);

  const config = loadConfig();
  if (config.oidc === null) {
    process.stderr.write('OpenID Connect is off: set PUBLIC_URL (or OIDC_ISSUER) as the service has it\n');
    return 1;
  }
  const store = await openStore(config.database);
  try {
    const audit = createAuditLog(store, { error: () => process.stderr.write('Warning: the audit event was not recorded\n') });
    const keys = resolveKeySet(config, { info: () => {}, warn: (m: string) => process.stderr.write(`${m}\n`) });
    const { provider, rsaAvailable } = createOidcProvider({
      issuer: config.oidc.issuer,
      store,
      consents: createOidcConsents(store.oidc),
      keys,
      rsaKeys: config.oidc.rsaKeys,
      cookieSecret: deriveSecret(keys, 'oidc-cookies'),
      sessions: { browserSession: async () => null, end: async () => {} },
      audit,
      registrationToken: null,
      trustProxy: false,
      browserSessionTtlSeconds: config.jwt.browserSessionTtlSeconds,
    });
    const validate = async (metadata: Record<string, unknown>) => {
      await (provider.Client as unknown as { validate(m: Record<string, unknown>): Promise<unknown> }).validate(metadata);
    };
    const clients = createOidcClients({ store: store.oidc, audit, validate, rsaAvailable });
    const by = { id: null, via: actor };
    if (sub === 'list') {
      for (const c of await clients.list()) {
        process.stdout.write(`${c.clientId}\t${c.name}\t${c.type}${c.trusted ? ',trusted' : ''}\t${c.scopes.join(' ')}\t${c.redirectUris.join(' ')}\n`);
      }
      return 0;
    }
    if (sub === 'remove') {
      const removed = await clients.remove(rest[0] as string, by);
      if (!removed) {
        process.stderr.write(`No client has the id ${rest[0]}\n`);
        return 1;
      }
      process.stdout.write(`Removed ${rest[0]}\n`);
      return 0;
    }
    try {
      const created = await clients.create(
        {
          name: options.name as string,
          redirectUris: options['redirect-uri'] ?? [],
          type: options.public === true ? 'public' : 'confidential',
          scopes: options.scope ?? ['openid', 'profile', 'email', 'roles'],
          trusted: options.trusted === true,
          idTokenAlg: options.rs256 === true ? 'RS256' : 'EdDSA',
        },
        by,
      );
      process.stdout.write(`client_id=${created.clientId}\n`);
      if (created.clientSecret !== null) process.stdout.write(`client_secret=${created.clientSecret}\n`);
      process.stderr.write(`Registered ${created.name}${created.clientSecret === null ? '' : ': the secret is shown this once (only its hash is kept)'}\n`);
      return 0;
    } catch (error) {
      if (!(error instanceof ValidationFailed)) throw error;
      process.stderr.write(`${error.issues.map((i) => `${String(i.loc.at(-1))}: ${i.msg}`).join('\n')}\n`);
      return 1;
    }
  } finally {
    await store.close();
  }
}
