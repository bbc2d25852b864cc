/**
 * TypeBox schemas of the passkey endpoints. The ceremony bodies are the JSON that SimpleWebAuthn
 * (and the WebAuthn Level 3 toJSON()) produce, so a browser, @simplewebauthn/browser or a native
 * app can send them as they are; strings are bounded so junk is refused before any decoding.
 */
import { Type } from 'typebox';
import type { Passkey } from '../../store/store.js';
import { PASSKEY_NAME_MAX } from './passkey-service.js';

const B64 = (maxLength: number, description?: string) =>
  Type.String({ minLength: 1, maxLength, pattern: '^[A-Za-z0-9_-]+={0,2}$', ...(description ? { description } : {}) });

/** Credential ids are at most 1023 bytes (WebAuthn L3): 1364 base64url characters. */
export const CredentialIdSchema = B64(1400, 'The credential id, base64url');

const ClientExtensionResults = Type.Object({}, { additionalProperties: true, maxProperties: 16 });
const Transports = Type.Array(Type.String({ maxLength: 32 }), { maxItems: 8 });

export const RegistrationResponseSchema = Type.Object(
  {
    id: CredentialIdSchema,
    rawId: CredentialIdSchema,
    type: Type.Literal('public-key'),
    response: Type.Object(
      {
        clientDataJSON: B64(8192),
        attestationObject: B64(65536),
        authenticatorData: Type.Optional(B64(65536)),
        transports: Type.Optional(Transports),
        publicKeyAlgorithm: Type.Optional(Type.Integer()),
        publicKey: Type.Optional(B64(8192)),
      },
      { additionalProperties: false },
    ),
    authenticatorAttachment: Type.Optional(Type.String({ maxLength: 32 })),
    clientExtensionResults: ClientExtensionResults,
  },
  { additionalProperties: false, description: "startRegistration()'s result (RegistrationResponseJSON)" },
);

export const AuthenticationResponseSchema = Type.Object(
  {
    id: CredentialIdSchema,
    rawId: CredentialIdSchema,
    type: Type.Literal('public-key'),
    response: Type.Object(
      {
        clientDataJSON: B64(8192),
        authenticatorData: B64(65536),
        signature: B64(8192),
        userHandle: Type.Optional(B64(1024)),
      },
      { additionalProperties: false },
    ),
    authenticatorAttachment: Type.Optional(Type.String({ maxLength: 32 })),
    clientExtensionResults: ClientExtensionResults,
  },
  { additionalProperties: false, description: "startAuthentication()'s result (AuthenticationResponseJSON)" },
);

const EXAMPLE_CLIENT_DATA = 'eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiLi4uIn0';
const EXAMPLE_ID = 'KEbWNCc7NgaYnUyrNeFGX9_3Y-8oJ3KwzjnaiD1d1LU';

export const RegisterBeginBodySchema = Type.Object(
  {
    password: Type.Optional(
      Type.String({ minLength: 1, maxLength: 1024, description: 'Required when the sign-in is older than 5 minutes' }),
    ),
  },
  { additionalProperties: false, examples: [{}, { password: 'correct horse battery staple' }] },
);

export const RegisterFinishBodySchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: PASSKEY_NAME_MAX, description: 'What the user calls it ("Work laptop")' }),
    response: RegistrationResponseSchema,
  },
  {
    additionalProperties: false,
    examples: [
      {
        name: 'Work laptop',
        response: {
          id: EXAMPLE_ID,
          rawId: EXAMPLE_ID,
          type: 'public-key',
          response: { clientDataJSON: EXAMPLE_CLIENT_DATA, attestationObject: 'o2NmbXRkbm9uZQ', transports: ['internal'] },
          clientExtensionResults: {},
        },
      },
    ],
  },
);

export const LoginBeginBodySchema = Type.Object(
  {
    email: Type.Optional(
      Type.String({ minLength: 1, maxLength: 254, description: 'Email or username: only that account\'s passkeys are offered. Leave out for a username-less sign-in.' }),
    ),
  },
  { additionalProperties: false, examples: [{}, { email: 'alice@example.com' }] },
);

export const LoginFinishBodySchema = Type.Object(
  { response: AuthenticationResponseSchema },
  {
    additionalProperties: false,
    examples: [
      {
        response: {
          id: EXAMPLE_ID,
          rawId: EXAMPLE_ID,
          type: 'public-key',
          response: { clientDataJSON: EXAMPLE_CLIENT_DATA, authenticatorData: 'SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAQ', signature: 'MEUCIQ' },
          clientExtensionResults: {},
        },
      },
    ],
  },
);

/** PublicKeyCredentialCreationOptionsJSON: passed as it is to startRegistration({ optionsJSON }). */
export const CreationOptionsSchema = Type.Object(
  {
    challenge: Type.String(),
    rp: Type.Object({ id: Type.Optional(Type.String()), name: Type.String() }, { additionalProperties: true }),
    user: Type.Object({ id: Type.String(), name: Type.String(), displayName: Type.String() }, { additionalProperties: true }),
    pubKeyCredParams: Type.Array(Type.Object({ type: Type.String(), alg: Type.Integer() })),
  },
  { additionalProperties: true, title: 'PublicKeyCredentialCreationOptionsJSON' },
);

/** PublicKeyCredentialRequestOptionsJSON: passed as it is to startAuthentication({ optionsJSON }). */
export const RequestOptionsSchema = Type.Object(
  {
    challenge: Type.String(),
    rpId: Type.Optional(Type.String()),
    allowCredentials: Type.Optional(Type.Array(Type.Object({ id: Type.String(), type: Type.String() }, { additionalProperties: true }))),
  },
  { additionalProperties: true, title: 'PublicKeyCredentialRequestOptionsJSON' },
);

export const CREATION_OPTIONS_EXAMPLE = {
  challenge: 'bXktY2hhbGxlbmdlLW9mLTMyLXJhbmRvbS1ieXRlcw',
  rp: { id: 'app.example.com', name: 'Auth QR Service' },
  user: { id: 'NjkxNmNiYzcwOWQ5ZWVkYjMxNmRlNWMz', name: 'alice@example.com', displayName: 'Alice Liddell' },
  pubKeyCredParams: [{ type: 'public-key', alg: -8 }, { type: 'public-key', alg: -7 }, { type: 'public-key', alg: -257 }],
  timeout: 300000,
  attestation: 'none',
  excludeCredentials: [],
  authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
};

export const REQUEST_OPTIONS_EXAMPLE = {
  challenge: 'bXktY2hhbGxlbmdlLW9mLTMyLXJhbmRvbS1ieXRlcw',
  rpId: 'app.example.com',
  allowCredentials: [],
  timeout: 300000,
  userVerification: 'required',
};

export const PasskeySchema = Type.Object(
  {
    id: Type.String({ description: 'The credential id, base64url' }),
    name: Type.String(),
    created_at: Type.String({ format: 'date-time' }),
    last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    device_type: Type.String({ description: "'multiDevice' (may be synced) or 'singleDevice'" }),
    backed_up: Type.Boolean(),
    transports: Type.Array(Type.String()),
    aaguid: Type.String({ description: "The authenticator model's AAGUID (zeros when it keeps it to itself)" }),
  },
  { title: 'Passkey' },
);

export const PASSKEY_EXAMPLE = {
  id: EXAMPLE_ID,
  name: 'Work laptop',
  created_at: '2030-01-01T09:00:00.000Z',
  last_used_at: null,
  device_type: 'multiDevice',
  backed_up: true,
  transports: ['internal', 'hybrid'],
  aaguid: 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd',
};

export const PasskeyListSchema = Type.Array(PasskeySchema);

export const PasskeyIdParamsSchema = Type.Object({ passkey_id: CredentialIdSchema });

export const RenameBodySchema = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: PASSKEY_NAME_MAX }) },
  { additionalProperties: false, examples: [{ name: 'Phone' }] },
);

export function toPasskeyResponse(p: Passkey) {
  return {
    id: p.id,
    name: p.name,
    created_at: p.createdAt.toISOString(),
    last_used_at: p.lastUsedAt?.toISOString() ?? null,
    device_type: p.deviceType,
    backed_up: p.backedUp,
    transports: p.transports,
    aaguid: p.aaguid,
  };
}
