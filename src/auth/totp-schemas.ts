/** TypeBox schemas of the two-factor (TOTP) endpoints. */
import { Type } from 'typebox';
import { PasswordSchema } from './auth-schemas.js';

/** A 6-digit TOTP code, or where allowed a recovery code (`xxxx-xxxx-xxxx`). */
const CodeSchema = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'The 6-digit code from the authenticator app (or, where allowed, a recovery code)',
});

export const TotpCodeBodySchema = Type.Object(
  { code: Type.String({ minLength: 1, maxLength: 64, description: 'The 6-digit code from the authenticator app' }) },
  { additionalProperties: false },
);

export const MfaVerifyBodySchema = Type.Object(
  {
    mfa_token: Type.String({ minLength: 1, maxLength: 256, description: 'From the 401 MFA_REQUIRED answer of the login' }),
    code: CodeSchema,
  },
  { additionalProperties: false },
);

export const TotpSetupBodySchema = Type.Object({ password: PasswordSchema }, { additionalProperties: false });

export const TotpDisableBodySchema = Type.Object(
  { password: PasswordSchema, code: CodeSchema },
  { additionalProperties: false },
);

export const TotpSetupResponseSchema = Type.Object(
  {
    secret: Type.String({ description: 'Base32 secret, for typing into an app that cannot scan' }),
    otpauth_url: Type.String({ description: 'The otpauth:// key URI the QR codes hold' }),
    qr_png_base64: Type.String({ description: 'The URI as a QR code: PNG, base64' }),
    qr_svg: Type.String({ description: 'The URI as a QR code: SVG' }),
  },
  { title: 'TotpSetup' },
);

export const RecoveryCodesResponseSchema = Type.Object(
  {
    recovery_codes: Type.Array(Type.String(), {
      description: 'Single-use codes that replace a TOTP code; shown this once, stored only hashed',
    }),
  },
  { title: 'RecoveryCodes' },
);
