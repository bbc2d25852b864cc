/** TypeBox schemas of the registration, login and session endpoints. */
import { type Static, Type } from 'typebox';
import { EmailSchema, FullNameSchema, RoleSchema, UsernameSchema } from '../../users/user-schemas.js';
import { PATTERN_FORM } from '../../http/validators.js';

/** Characters, not bytes: the byte limit (1024 of UTF-8) is checked by the user service. */
export const PasswordSchema = Type.String({ minLength: 1, maxLength: 1024 });

export const RegisterBodySchema = Type.Object(
  {
    username: UsernameSchema,
    email: EmailSchema,
    password: PasswordSchema,
    full_name: Type.Optional(FullNameSchema),
    role: Type.Optional(RoleSchema),
  },
  { additionalProperties: false },
);

export const LoginBodySchema = Type.Object(
  { email: EmailSchema, password: PasswordSchema },
  { additionalProperties: false, examples: [{ email: 'alice@example.com', password: 'correct horse battery staple' }] },
);

export const REGISTER_EXAMPLE: Static<typeof RegisterBodySchema> = {
  username: 'alice',
  email: 'alice@example.com',
  password: 'correct horse battery staple',
  full_name: 'Alice Liddell',
};

/** The OAuth2 password grant's form (RFC 6749 §4.3), as Swagger UI's Authorize dialog sends it. */
export const TokenFormSchema = Type.Object(
  {
    grant_type: Type.Optional(Type.String({ maxLength: 64 })),
    username: Type.String({ minLength: 1, maxLength: 254, description: 'Email or username' }),
    password: PasswordSchema,
    scope: Type.Optional(Type.String({ maxLength: 1024 })),
    client_id: Type.Optional(Type.String({ maxLength: 256 })),
    client_secret: Type.Optional(Type.String({ maxLength: 256 })),
  },
  {
    additionalProperties: false,
    examples: [{ grant_type: 'password', username: 'alice@example.com', password: 'correct horse battery staple' }],
  },
);

export const TokenResponseSchema = Type.Object(
  {
    access_token: Type.String(),
    token_type: Type.Literal('bearer'),
    expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
    refresh_token: Type.String({ description: 'Single use: POST /auth/refresh returns a new pair' }),
  },
  {
    title: 'TokenResponse',
    examples: [
      {
        access_token:
          'eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJzdWIiOiI2OTE2Y2JjNzA5ZDllZWRiMzE2ZGU1YzMifQ.c2lnbmF0dXJl',
        token_type: 'bearer',
        expires_in: 900,
        refresh_token: 'Jb3Yw2cV9pQm1xR7tK0sL4nA8eD6fH5gU2iO3yT1wZq',
      },
    ],
  },
);

export const RefreshBodySchema = Type.Object(
  { refresh_token: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false, examples: [{ refresh_token: 'Jb3Yw2cV9pQm1xR7tK0sL4nA8eD6fH5gU2iO3yT1wZq' }] },
);

export const SessionSchema = Type.Object(
  {
    id: Type.String(),
    user_agent: Type.Union([Type.String(), Type.Null()]),
    ip: Type.Union([Type.String(), Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
    last_used_at: Type.String({ format: 'date-time' }),
    expires_at: Type.String({ format: 'date-time' }),
    current: Type.Boolean({ description: 'The session of the token making this request' }),
  },
  { title: 'Session' },
);

export const SESSION_EXAMPLE: Static<typeof SessionSchema> = {
  id: '6917a1c409d9eedb316de5d0',
  user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/145.0',
  ip: '203.0.113.7',
  created_at: '2025-11-14T08:31:00.000Z',
  last_used_at: '2025-11-14T10:02:00.000Z',
  expires_at: '2025-12-14T08:31:00.000Z',
  current: true,
};

export const SessionIdParamsSchema = Type.Object({
  session_id: Type.String({ pattern: '^[0-9a-f]{24}$', [PATTERN_FORM]: 'a 24-character lowercase hex id (from GET /auth/sessions)' }),
});

export const JwksSchema = Type.Object(
  {
    keys: Type.Array(
      Type.Object({
        kty: Type.String(),
        crv: Type.String(),
        x: Type.String(),
        kid: Type.String(),
        alg: Type.String(),
        use: Type.String(),
      }),
    ),
  },
  {
    title: 'JWKS',
    examples: [
      {
        keys: [
          { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', kid: 'k1', alg: 'EdDSA', use: 'sig' },
        ],
      },
    ],
  },
);
