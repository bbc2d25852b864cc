/**
 * Consent remembered per person and client (not per browser): the id of the grant a person gave
 * a client, kept as a record of its own beside the provider's (model `Consent`), so a second
 * browser, or a new session, does not ask again. Removing the grant (a revocation) forgets it.
 * The consent page remembers through it; the provider's grant lookup reads through it.
 */
import type { OidcStore } from '../store/store.js';

const CONSENT_TTL_MS = 365 * 24 * 3600 * 1000;

export const consentKey = (accountId: string, clientId: string) => `${accountId}:${clientId}`;

export interface OidcConsents {
  /** The grant this person gave this client, if one is remembered and not expired. */
  grantOf(accountId: string, clientId: string): Promise<string | null>;
  /** Remembers the grant a person just gave a client, for a year. */
  remember(accountId: string, clientId: string, grantId: string): Promise<void>;
}

export function createOidcConsents(store: OidcStore): OidcConsents {
  return {
    async grantOf(accountId, clientId) {
      const remembered = await store.find('Consent', consentKey(accountId, clientId), new Date());
      return remembered === null ? null : (JSON.parse(remembered.payload) as { grantId: string }).grantId;
    },
    async remember(accountId, clientId, grantId) {
      await store.upsert({
        model: 'Consent',
        id: consentKey(accountId, clientId),
        payload: JSON.stringify({ grantId }),
        grantId: null,
        userCode: null,
        uid: null,
        expiresAt: new Date(Date.now() + CONSENT_TTL_MS),
      });
    },
  };
}
