/**
 * The relying party's configuration (config.ts parseWebauthn): the origins and RP ID come from
 * WEBAUTHN_ORIGINS / WEBAUTHN_RP_ID, PUBLIC_URL or the development default, never from requests;
 * start-up refuses an RP ID that is not a suffix of every origin's host.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createRelyingParty } from '../../../src/auth/passkeys/relying-party.js';
import { ConfigError, loadConfig } from '../../../src/config.js';

const load = (env: Record<string, string>) => loadConfig({ DATA_DIR: '/tmp/authqr-config-test', ...env });

describe('passkeys configuration', () => {
  it('defaults in development to http://localhost on the port listened on, RP ID localhost', () => {
    const config = load({ NODE_ENV: 'development' });
    assert.deepEqual(config.webauthn, { rpId: 'localhost', rpName: 'Auth QR Service', origins: null });
    let port = 8000;
    const rp = createRelyingParty(config.webauthn, () => `http://localhost:${port}`);
    port = 43123;
    assert.deepEqual(rp.current().origins, ['http://localhost:43123']);
  });

  it("defaults to PUBLIC_URL's origin and host", () => {
    const config = load({ NODE_ENV: 'development', PUBLIC_URL: 'https://auth.example.com/app/' });
    assert.deepEqual(config.webauthn.origins, ['https://auth.example.com']);
    assert.equal(config.webauthn.rpId, 'auth.example.com');
  });

  it('takes an exact list of origins and a parent-domain RP ID', () => {
    const config = load({
      WEBAUTHN_ORIGINS: 'https://login.example.com, https://app.example.com',
      WEBAUTHN_RP_ID: 'Example.com',
      WEBAUTHN_RP_NAME: 'Example School',
    });
    assert.deepEqual(config.webauthn, {
      rpId: 'example.com',
      rpName: 'Example School',
      origins: ['https://login.example.com', 'https://app.example.com'],
    });
  });

  it('refuses an RP ID that is not a suffix of every origin host', () => {
    assert.throws(
      () => load({ WEBAUTHN_ORIGINS: 'https://app.example.com,https://other.org', WEBAUTHN_RP_ID: 'example.com' }),
      (error: unknown) => error instanceof ConfigError && error.problems.some((p) => p.includes('other.org')),
    );
    // A suffix of the string that is no parent domain is no suffix either.
    assert.throws(() => load({ WEBAUTHN_ORIGINS: 'https://badexample.com', WEBAUTHN_RP_ID: 'example.com' }), ConfigError);
    assert.throws(() => load({ PUBLIC_URL: 'https://app.example.com', WEBAUTHN_RP_ID: 'evil.com' }), ConfigError);
  });

  it('refuses origins that are not bare https origins (http only on localhost)', () => {
    for (const bad of ['http://app.example.com', 'https://app.example.com/path', 'app.example.com', 'ftp://x.example']) {
      assert.throws(() => load({ WEBAUTHN_ORIGINS: bad }), ConfigError, bad);
    }
    assert.deepEqual(load({ WEBAUTHN_ORIGINS: 'http://localhost:3000' }).webauthn.origins, ['http://localhost:3000']);
  });

  it('turns passkeys off in production without PUBLIC_URL or WEBAUTHN_ORIGINS (503 PASSKEYS_NOT_CONFIGURED)', () => {
    const config = load({ NODE_ENV: 'production', JWT_SECRET: randomBytes(48).toString('base64') });
    assert.equal(config.webauthn.rpId, null);
    const rp = createRelyingParty(config.webauthn, () => null);
    assert.equal(rp.enabled(), false);
    assert.throws(() => rp.current(), (error: unknown) => (error as { code?: string }).code === 'PASSKEYS_NOT_CONFIGURED');
    assert.throws(() => load({ NODE_ENV: 'production', WEBAUTHN_RP_ID: 'example.com' }), ConfigError);
  });
});
