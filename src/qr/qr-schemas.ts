/** TypeBox schemas of the QR endpoints. */
import { Type } from 'typebox';

export const QrCodeResponseSchema = Type.Object(
  {
    user_id: Type.String(),
    qr_code_base64: Type.String({ description: 'PNG, base64' }),
    data: Type.String({ examples: ['USER:6916cbc709d9eedb316de5c3|EMAIL:alice@example.com|ROLE:student'] }),
  },
  { title: 'QRCodeResponse' },
);

const Colour = (fallback: string) =>
  Type.String({ pattern: '^#?[0-9a-fA-F]{6}$', description: `6 hex digits, '#' optional (default ${fallback})` });

/** Image options, shared by GET /qr/{user_id}/image (query) and POST /qr/encode (body). */
export const imageOptionProperties = {
  format: Type.Enum(['png', 'svg'], { default: 'png', description: 'png or svg' }),
  size: Type.Optional(
    Type.Integer({ minimum: 21, maximum: 2048, description: 'Width and height in px (default: 10 px per module)' }),
  ),
  margin: Type.Integer({ minimum: 0, maximum: 20, default: 5, description: 'Quiet zone, in modules' }),
  ecc: Type.Enum(['L', 'M', 'Q', 'H'], { default: 'M', description: 'Error correction level' }),
  dark: Type.Optional(Colour('000000')),
  light: Type.Optional(Colour('ffffff')),
};

export const ImageQuerySchema = Type.Object(imageOptionProperties, { additionalProperties: false });

export const EncodeBodySchema = Type.Object(
  {
    data: Type.String({ minLength: 1, maxLength: 2048, description: 'The text to encode' }),
    ...imageOptionProperties,
  },
  { additionalProperties: false },
);

export const ImageResponseSchema = {
  description: 'The QR code image',
  content: {
    'image/png': { schema: { type: 'string', format: 'binary' } },
    'image/svg+xml': { schema: { type: 'string' } },
  },
};
