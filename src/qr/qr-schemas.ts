/** TypeBox schemas of the QR endpoints. */
import { Type } from 'typebox';
import { defaultsOptional } from '../http/doc-schemas.js';
import { PATTERN_FORM } from '../http/validators.js';

/** A signed badge as POST /qr/generate makes it (badge.ts), for the examples. */
const BADGE_EXAMPLE =
  'USER:6916cbc709d9eedb316de5c3|EMAIL:alice@example.com|ROLE:student|IAT:1763109000|EXP:1794645000|KID:k1|' +
  'SIG:lvXTk-5dIaoxc7y_XnGEOSgLGmMiYjL6ue4Cpd8u8u7NIKqH9NnZgsH6qDFnlKP9JJQW4kiAdH--X-sXZGSVCA';

export const QrCodeResponseSchema = Type.Object(
  {
    user_id: Type.String(),
    qr_code_base64: Type.String({ description: 'PNG, base64' }),
    data: Type.String({ examples: ['USER:6916cbc709d9eedb316de5c3|EMAIL:alice@example.com|ROLE:student'] }),
  },
  {
    title: 'QRCodeResponse',
    examples: [
      {
        user_id: '6916cbc709d9eedb316de5c3',
        qr_code_base64: 'iVBORw0KGgoAAAANSUhEUgAAAUoAAAFKAQAAAABB…',
        data: BADGE_EXAMPLE,
      },
    ],
  },
);

const Colour = (fallback: string) =>
  Type.String({
    pattern: '^#?[0-9a-fA-F]{6}$',
    [PATTERN_FORM]: "a colour as #rrggbb (6 hex digits, the '#' optional)",
    description: `6 hex digits, '#' optional (default ${fallback})`,
  });

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

export const ImageQuerySchema = defaultsOptional(Type.Object(imageOptionProperties, { additionalProperties: false }));

export const EncodeBodySchema = defaultsOptional(
  Type.Object(
    {
      data: Type.String({ minLength: 1, maxLength: 2048, description: 'The text to encode' }),
      ...imageOptionProperties,
    },
    {
      additionalProperties: false,
      examples: [
        { data: 'https://example.com/rooms/204' },
        { data: 'WIFI:T:WPA;S:school-guest;P:open sesame;;', format: 'svg', ecc: 'Q', dark: '#1a237e' },
      ],
    },
  ),
);

export const ImageResponseSchema = {
  description: 'The QR code image',
  content: {
    'image/png': { schema: { type: 'string', format: 'binary' } },
    'image/svg+xml': { schema: { type: 'string' } },
  },
};

/** The longest text POST /qr/verify reads (the badge checker's page reads the same). */
export const VERIFY_MAX_CHARS = 4096;

export const VerifyBodySchema = Type.Object(
  {
    data: Type.String({
      minLength: 1,
      maxLength: VERIFY_MAX_CHARS,
      description: 'The text read from a QR badge',
      examples: ['USER:6916cbc709d9eedb316de5c3|EMAIL:alice@example.com|ROLE:student|IAT:1764000000|EXP:1795536000|KID:…|SIG:…'],
    }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        data: BADGE_EXAMPLE,
      },
    ],
  },
);

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

const verdictProperties = {
  valid: Type.Boolean(),
  reason: Type.Optional(
    Type.Enum(
      [
        'malformed',
        'unsigned',
        'unknown_key',
        'bad_signature',
        'expired',
        'user_not_found',
        'user_disabled',
        'superseded',
        'role_changed',
        'email_changed',
      ],
      { description: 'Why the badge is not valid (absent when it is)' },
    ),
  ),
  user_id: Nullable(Type.String()),
  username: Nullable(Type.String({ description: 'The user as they are now; null if deleted' })),
  role: Nullable(Type.String({ description: 'The role the badge states' })),
  issued_at: Nullable(Type.String({ format: 'date-time' })),
  expires_at: Nullable(Type.String({ format: 'date-time' })),
};

const VALID_BADGE = {
  valid: true,
  user_id: '6916cbc709d9eedb316de5c3',
  username: 'alice',
  role: 'student',
  issued_at: '2025-11-14T08:30:00.000Z',
  expires_at: '2026-11-14T08:30:00.000Z',
};

export const VerifyResponseSchema = Type.Object(verdictProperties, {
  title: 'BadgeVerdict',
  examples: [
    VALID_BADGE,
    { ...VALID_BADGE, valid: false, reason: 'superseded' },
    { valid: false, reason: 'bad_signature', user_id: null, username: null, role: null, issued_at: null, expires_at: null },
  ],
  description: 'user_id, role and the times are what the badge states, given only once its signature holds (null otherwise).',
});

export const ScanResponseSchema = Type.Object(
  { ...verdictProperties, data: Type.String({ description: 'The text of the QR code found' }) },
  {
    title: 'ScanResult',
    examples: [
      {
        ...VALID_BADGE,
        data: BADGE_EXAMPLE,
      },
    ],
  },
);
