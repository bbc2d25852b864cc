/**
 * oidc-provider's storage adapter over our Store (OidcStore in store.ts): the provider's
 * sessions, grants, codes, tokens, interactions and clients live in the service's own database
 * (SQLite, PostgreSQL or MongoDB), so every instance shares them: a code issued by one
 * instance is redeemed at another, a revocation is seen everywhere.
 *
 * Client secrets are stored hashed (SHA-256 of a 256-bit random secret: a slow hash adds nothing
 * against guessing a secret that long, and the token endpoint must stay fast). Whoever writes a
 * Client record through here (the admin API, the CLI, Dynamic Client Registration) hands over
 * the plain secret and the store only ever sees its hash; oidc-provider's comparison is replaced
 * to match (oidc-provider.ts).
 */
import { createHash } from 'node:crypto';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { OidcStore } from '../store/store.js';

const HASH_PREFIX = 'sha256:';

/** What a stored client secret is: never the secret itself. */
export function hashClientSecret(secret: string): string {
  return `${HASH_PREFIX}${createHash('sha256').update(secret, 'utf8').digest('base64url')}`;
}

export const isHashedSecret = (value: unknown): value is string => typeof value === 'string' && value.startsWith(HASH_PREFIX);

export function createAdapterFactory(store: OidcStore, now: () => Date = () => new Date()) {
  return (model: string): Adapter => {
    const parse = (record: { payload: string; consumedAt: Date | null } | null): AdapterPayload | undefined => {
      if (record === null) return undefined;
      const payload = JSON.parse(record.payload) as AdapterPayload;
      // The provider reads `consumed` to detect a code (or a rotated refresh token) used twice.
      return record.consumedAt === null ? payload : { ...payload, consumed: Math.floor(record.consumedAt.getTime() / 1000) };
    };
    return {
      async upsert(id, payload, expiresIn) {
        const stored = model === 'Client' && typeof payload.client_secret === 'string' && !isHashedSecret(payload.client_secret)
          ? { ...payload, client_secret: hashClientSecret(payload.client_secret) }
          : payload;
        await store.upsert({
          model,
          id,
          payload: JSON.stringify(stored),
          grantId: typeof payload.grantId === 'string' ? payload.grantId : null,
          userCode: typeof payload.userCode === 'string' ? payload.userCode : null,
          uid: typeof payload.uid === 'string' ? payload.uid : null,
          expiresAt: expiresIn ? new Date(now().getTime() + expiresIn * 1000) : null,
        });
      },
      async find(id) {
        return parse(await store.find(model, id, now()));
      },
      async findByUid(uid) {
        return parse(await store.findByUid(model, uid, now()));
      },
      async findByUserCode(userCode) {
        return parse(await store.findByUserCode(model, userCode, now()));
      },
      async consume(id) {
        await store.consume(model, id, now());
      },
      async destroy(id) {
        await store.destroy(model, id);
      },
      async revokeByGrantId(grantId) {
        await store.revokeByGrantId(grantId);
      },
    };
  };
}
