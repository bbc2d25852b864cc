/**
 * A software WebAuthn authenticator for API tests (no browser): a P-256 key per credential, the
 * "none" attestation, and the flags and counter each test wants (user verified or not, backup
 * eligible or not, a counter that goes backwards). It answers SimpleWebAuthn's option JSON with
 * the JSON a browser's startRegistration() / startAuthentication() would send.
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';

type Cbor = number | string | Uint8Array | Cbor[] | Map<Cbor, Cbor> | { [key: string]: Cbor };

function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 256) return Buffer.from([(major << 5) | 24, n]);
  if (n < 65536) return Buffer.from([(major << 5) | 25, n >> 8, n & 255]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

/** The few CBOR types a "none" attestation and a COSE key need. */
export function cbor(value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value]);
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(cbor)]);
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, v]) => [cbor(k), cbor(v)])]);
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest();
const b64url = (data: Buffer | Uint8Array) => Buffer.from(data).toString('base64url');

export interface SoftCredential {
  id: string;
  privateKey: KeyObject;
  userHandle: string;
  counter: number;
}

export interface Flags {
  uv?: boolean;
  /** Backup eligible (a synced passkey). */
  be?: boolean;
  bs?: boolean;
}

export interface SoftAuthenticator {
  credentials: SoftCredential[];
  /** Answers creation options. `counter` is the credential's starting count (0: a synced passkey that never counts). */
  register(
    options: CreationOptions,
    overrides?: Flags & { origin?: string; counter?: number; counts?: boolean; credentialId?: string },
  ): Record<string, unknown>;
  /** Answers request options with `credential` (the last registered by default). */
  authenticate(
    options: RequestOptions,
    overrides?: Flags & { origin?: string; credential?: SoftCredential; counter?: number; type?: string; userHandle?: string | null },
  ): Record<string, unknown>;
}

interface CreationOptions {
  challenge: string;
  rp: { id?: string };
  user: { id: string };
}
interface RequestOptions {
  challenge: string;
  rpId?: string;
}

export function createSoftAuthenticator(defaults: { origin: string; rpId: string } & Flags & { counts?: boolean }): SoftAuthenticator {
  const credentials: SoftCredential[] = [];
  const counting = new WeakMap<SoftCredential, boolean>();

  function authData(rpId: string, flags: Flags, counter: number, attested?: Buffer): Buffer {
    let f = 0x01; // user present
    if (flags.uv ?? defaults.uv ?? true) f |= 0x04;
    if (flags.be ?? defaults.be ?? false) f |= 0x08;
    if (flags.bs ?? defaults.bs ?? false) f |= 0x10;
    if (attested !== undefined) f |= 0x40;
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter >>> 0);
    return Buffer.concat([sha256(rpId), Buffer.from([f]), count, attested ?? Buffer.alloc(0)]);
  }

  const clientData = (type: string, challenge: string, origin: string) =>
    Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));

  return {
    credentials,
    register(options, overrides = {}) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = publicKey.export({ format: 'jwk' });
      const cose = cbor(
        new Map<Cbor, Cbor>([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, Buffer.from(jwk.x as string, 'base64url')],
          [-3, Buffer.from(jwk.y as string, 'base64url')],
        ]),
      );
      const idBytes = overrides.credentialId === undefined ? randomBytes(32) : Buffer.from(overrides.credentialId, 'base64url');
      const idLength = Buffer.alloc(2);
      idLength.writeUInt16BE(idBytes.length);
      const aaguid = Buffer.alloc(16);
      const counter = overrides.counter ?? 0;
      const data = authData(options.rp.id ?? defaults.rpId, overrides, counter, Buffer.concat([aaguid, idLength, idBytes, cose]));
      const credential: SoftCredential = { id: b64url(idBytes), privateKey, userHandle: options.user.id, counter };
      counting.set(credential, overrides.counts ?? defaults.counts ?? true);
      credentials.push(credential);
      return {
        id: credential.id,
        rawId: credential.id,
        type: 'public-key',
        response: {
          clientDataJSON: b64url(clientData('webauthn.create', options.challenge, overrides.origin ?? defaults.origin)),
          attestationObject: b64url(cbor({ fmt: 'none', attStmt: {}, authData: data })),
          transports: ['internal'],
        },
        authenticatorAttachment: 'platform',
        clientExtensionResults: {},
      };
    },

    authenticate(options, overrides = {}) {
      const credential = overrides.credential ?? credentials.at(-1);
      if (credential === undefined) throw new Error('no credential registered');
      if (overrides.counter !== undefined) credential.counter = overrides.counter;
      else if (counting.get(credential) !== false) credential.counter += 1;
      const data = authData(options.rpId ?? defaults.rpId, overrides, credential.counter);
      const client = clientData(overrides.type ?? 'webauthn.get', options.challenge, overrides.origin ?? defaults.origin);
      const signature = sign('sha256', Buffer.concat([data, sha256(client)]), credential.privateKey);
      const userHandle = overrides.userHandle === undefined ? credential.userHandle : overrides.userHandle;
      return {
        id: credential.id,
        rawId: credential.id,
        type: 'public-key',
        response: {
          clientDataJSON: b64url(client),
          authenticatorData: b64url(data),
          signature: b64url(signature),
          ...(userHandle === null ? {} : { userHandle }),
        },
        authenticatorAttachment: 'platform',
        clientExtensionResults: {},
      };
    },
  };
}
