/**
 * The relying party passkeys are bound to: its RP ID and the exact origins a ceremony may come
 * from, from configuration only (config.ts checks them at start-up). Never from a request's Host,
 * Origin or X-Forwarded-* headers: behind a proxy those are whatever the client wrote, and a
 * relying party that believes them accepts assertions made for another site.
 */
import type { Config } from '../../config.js';
import { AppError } from '../../errors.js';

export interface RelyingParty {
  /** The RP ID and the allowed origins now; throws 503 PASSKEYS_NOT_CONFIGURED when passkeys are off. */
  current(): { rpId: string; rpName: string; origins: string[] };
  /** Whether passkeys are on (the pages hide their buttons otherwise). */
  enabled(): boolean;
}

export const passkeysNotConfigured = () =>
  new AppError(503, 'PASSKEYS_NOT_CONFIGURED', 'Passkeys are off: the server has no WEBAUTHN_ORIGINS or PUBLIC_URL');

/**
 * `publicBase` is the development default's source: http://localhost:<the port listened on> when
 * neither WEBAUTHN_ORIGINS nor PUBLIC_URL is set (so PORT=0 in tests still matches the browser).
 */
export function createRelyingParty(webauthn: Config['webauthn'], publicBase: () => string | null): RelyingParty {
  const origins = () => {
    if (webauthn.origins !== null) return webauthn.origins;
    const base = publicBase();
    return base === null ? [] : [new URL(base).origin];
  };
  return {
    current() {
      const list = origins();
      if (webauthn.rpId === null || list.length === 0) throw passkeysNotConfigured();
      return { rpId: webauthn.rpId, rpName: webauthn.rpName, origins: list };
    },
    enabled: () => webauthn.rpId !== null && origins().length > 0,
  };
}
