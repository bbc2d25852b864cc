/** TypeBox schemas of the registration and login endpoints. */
import { Type } from 'typebox';
import { EmailSchema, FullNameSchema, RoleSchema, UsernameSchema } from '../users/user-schemas.js';

/** Characters, not bytes: the byte limit (1024 of UTF-8) is checked by the user service. */
const PasswordSchema = Type.String({ minLength: 1, maxLength: 1024 });

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
  { additionalProperties: false },
);

export const TokenResponseSchema = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
});
