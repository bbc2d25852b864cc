/** TypeBox schemas of the password change, password reset and email verification endpoints. */
import { Type } from 'typebox';
import { EmailSchema } from '../../users/user-schemas.js';
import { PasswordSchema } from '../login/auth-schemas.js';

const LINK_TOKEN_EXAMPLE = 'mZ1xq0Vd8GgP3sT6bN2cH7kLwE9rY4uJ5aF0oI1pQzA';

/** A mailed token; its exact shape is checked by the service (an unknown one is a 400, not a 422). */
const LinkTokenSchema = Type.String({ minLength: 1, maxLength: 256, description: 'The token from the mail' });

export const ChangePasswordBodySchema = Type.Object(
  { current_password: PasswordSchema, new_password: PasswordSchema },
  {
    additionalProperties: false,
    examples: [{ current_password: 'correct horse battery staple', new_password: 'a new and longer passphrase' }],
  },
);

export const AccessTokenResponseSchema = Type.Object(
  {
    access_token: Type.String(),
    token_type: Type.Literal('bearer'),
    expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
  },
  {
    title: 'AccessTokenResponse',
    examples: [
      {
        access_token:
          'eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJzdWIiOiI2OTE2Y2JjNzA5ZDllZWRiMzE2ZGU1YzMifQ.c2lnbmF0dXJl',
        token_type: 'bearer',
        expires_in: 900,
      },
    ],
  },
);

export const ResetRequestBodySchema = Type.Object(
  { email: EmailSchema },
  { additionalProperties: false, examples: [{ email: 'alice@example.com' }] },
);

export const ResetConfirmBodySchema = Type.Object(
  { token: LinkTokenSchema, new_password: PasswordSchema },
  { additionalProperties: false, examples: [{ token: LINK_TOKEN_EXAMPLE, new_password: 'a new and longer passphrase' }] },
);

export const VerifyConfirmBodySchema = Type.Object(
  { token: LinkTokenSchema },
  { additionalProperties: false, examples: [{ token: LINK_TOKEN_EXAMPLE }] },
);

export const AcceptedResponseSchema = Type.Object({ detail: Type.String() }, { title: 'Accepted' });

/** POST /users/me/email: the new address, and the password again. */
export const ChangeEmailBodySchema = Type.Object(
  {
    email: { ...EmailSchema, description: 'The new address: valid, and no other account may have it' },
    password: { ...PasswordSchema, description: 'The current password, typed again' },
  },
  {
    additionalProperties: false,
    title: 'ChangeEmail',
    examples: [{ email: 'alice.liddell@example.org', password: 'correct horse battery staple' }],
  },
);
