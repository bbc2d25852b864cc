/** TypeBox schemas of the two-factor (TOTP) endpoints. */
import { Type } from 'typebox';
import { PasswordSchema } from '../login/auth-schemas.js';

/** A 6-digit TOTP code, or where allowed a recovery code (`xxxx-xxxx-xxxx`). */
const CodeSchema = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'The 6-digit code from the authenticator app (or, where allowed, a recovery code)',
});

export const TotpCodeBodySchema = Type.Object(
  { code: Type.String({ minLength: 1, maxLength: 64, description: 'The 6-digit code from the authenticator app' }) },
  { additionalProperties: false, examples: [{ code: '492039' }] },
);

export const MfaVerifyBodySchema = Type.Object(
  {
    mfa_token: Type.String({ minLength: 1, maxLength: 256, description: 'From the 401 MFA_REQUIRED answer of the login' }),
    code: CodeSchema,
  },
  {
    additionalProperties: false,
    examples: [
      { mfa_token: 'Xk2pL9qW4rT7yU1iO3aS5dF8gH0jK6lZxC2vB4nM7qE', code: '492039' },
      { mfa_token: 'Xk2pL9qW4rT7yU1iO3aS5dF8gH0jK6lZxC2vB4nM7qE', code: 't26w-pzkn-4g22' },
    ],
  },
);

export const TotpSetupBodySchema = Type.Object(
  { password: PasswordSchema },
  { additionalProperties: false, examples: [{ password: 'correct horse battery staple' }] },
);

export const TotpDisableBodySchema = Type.Object(
  { password: PasswordSchema, code: CodeSchema },
  { additionalProperties: false, examples: [{ password: 'correct horse battery staple', code: '492039' }] },
);

export const TotpSetupResponseSchema = Type.Object(
  {
    secret: Type.String({ description: 'Base32 secret, for typing into an app that cannot scan' }),
    otpauth_url: Type.String({ description: 'The otpauth:// key URI the QR codes hold' }),
    qr_png_base64: Type.String({ description: 'The URI as a QR code: PNG, base64' }),
    qr_svg: Type.String({ description: 'The URI as a QR code: SVG' }),
  },
  {
    title: 'TotpSetup',
    examples: [
      {
        secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
        otpauth_url:
          'otpauth://totp/AuthQR:alice%40example.com?issuer=AuthQR&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&algorithm=SHA1&digits=6&period=30',
        qr_png_base64: 'iVBORw0KGgoAAAANSUhEUgAAAUgAAAFICAAAAAA…',
        qr_svg: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 328 328">…</svg>',
      },
    ],
  },
);

export const RecoveryCodesResponseSchema = Type.Object(
  {
    recovery_codes: Type.Array(Type.String(), {
      description: 'Single-use codes that replace a TOTP code; shown this once, stored only hashed',
    }),
  },
  {
    title: 'RecoveryCodes',
    examples: [
      {
        recovery_codes: [
          't26w-pzkn-4g22',
          'gbmc-k61s-a50c',
          'takd-9gf6-p3kb',
          '8nt6-zn8d-e4mh',
          'yb9t-vmbx-whfy',
          'd5w2-e86v-g19t',
          '6zs7-1m9a-a4pp',
          'cb20-80bw-1mc3',
          'ky20-8th4-d8kv',
          'bq5b-z5vf-z1a3',
        ],
      },
    ],
  },
);
