/** TypeBox schemas of the password change, password reset and email verification endpoints. */
import { Type } from 'typebox';
import { EmailSchema } from '../users/user-schemas.js';
import { PasswordSchema } from './auth-schemas.js';

/** A mailed token; its exact shape is checked by the service (an unknown one is a 400, not a 422). */
const LinkTokenSchema = Type.String({ minLength: 1, maxLength: 256, description: 'The token from the mail' });

export const ChangePasswordBodySchema = Type.Object(
  { current_password: PasswordSchema, new_password: PasswordSchema },
  { additionalProperties: false },
);

export const AccessTokenResponseSchema = Type.Object(
  {
    access_token: Type.String(),
    token_type: Type.Literal('bearer'),
    expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
  },
  { title: 'AccessTokenResponse' },
);

export const ResetRequestBodySchema = Type.Object({ email: EmailSchema }, { additionalProperties: false });

export const ResetConfirmBodySchema = Type.Object(
  { token: LinkTokenSchema, new_password: PasswordSchema },
  { additionalProperties: false },
);

export const VerifyConfirmBodySchema = Type.Object({ token: LinkTokenSchema }, { additionalProperties: false });

export const AcceptedResponseSchema = Type.Object({ detail: Type.String() }, { title: 'Accepted' });
