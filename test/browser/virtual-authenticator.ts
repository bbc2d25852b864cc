/**
 * Chromium's virtual WebAuthn authenticator through the DevTools protocol, for the passkey journeys
 * (test/browser/passkeys.test.ts) and the sign-in bench (bench/passkey-sign-in.ts): a platform
 * authenticator (ctap2, internal transport) with resident keys and a fingerprint reader.
 */
import type { BrowserContext, CDPSession, Page } from 'playwright-core';

export interface VirtualAuthenticator {
  cdp: CDPSession;
  id: string;
  credentials(): Promise<{ credentialId: string; signCount: number; isResidentCredential: boolean }[]>;
  setUserVerified(yes: boolean): Promise<void>;
}

/** A platform authenticator with a fingerprint reader, attached to this page (it stays across navigations). */
export async function addVirtualAuthenticator(context: BrowserContext, page: Page, isUserVerified = true): Promise<VirtualAuthenticator> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified,
      automaticPresenceSimulation: true,
    },
  });
  return {
    cdp,
    id: authenticatorId,
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
    setUserVerified: async (yes) => {
      await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: yes });
    },
  };
}


/**
 * Plays a browser without passkey autofill (conditional UI): Chromium's virtual authenticator would
 * answer the sign-in page's autofill request by itself on load, before the button can be used.
 */
export async function withoutPasskeyAutofill(context: BrowserContext): Promise<void> {
  await context.addInitScript({ content: 'PublicKeyCredential.isConditionalMediationAvailable = async () => false;' });
}
