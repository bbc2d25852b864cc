/**
 * Consent remembered per person and client (not per browser): the id of the grant a person gave
 * a client, kept as a record of its own beside the provider's (model `Consent`), so a second
 * browser, or a new session, does not ask again. Removing the grant (a revocation) forgets it.
 */
export const consentKey = (accountId: string, clientId: string) => `${accountId}:${clientId}`;
