/** TypeBox schemas of the user endpoints: validation, OpenAPI and static types in one place. */
import { type Static, Type } from 'typebox';
import type { User } from '../store/store.js';
import { defaultsOptional } from '../http/doc-schemas.js';
import { PATTERN_FORM } from '../http/validators.js';

/** No NUL bytes or other control characters in names: they break logs, terminals and exports. */
const NO_CONTROL_CHARS = '^[^\\u0000-\\u001F\\u007F]*$';
const TEXT = { pattern: NO_CONTROL_CHARS, [PATTERN_FORM]: 'text without control characters (no line breaks, tabs or NUL)' };

export const RoleSchema = Type.Enum(['student', 'teacher', 'admin'], { description: 'student, teacher or admin' });

export const UserIdSchema = Type.String({
  pattern: '^[0-9a-fA-F]{24}$',
  [PATTERN_FORM]: 'a 24-character hex id',
  description: '24 hexadecimal characters (MongoDB ObjectId form)',
  examples: ['6916cbc709d9eedb316de5c3'],
});

export const UsernameSchema = Type.String({ minLength: 3, maxLength: 50, ...TEXT });
export const EmailSchema = Type.String({ format: 'email', maxLength: 254, examples: ['alice@example.com'] });
export const FullNameSchema = Type.Union([Type.String({ maxLength: 200, ...TEXT }), Type.Null()]);

export const UserResponseSchema = Type.Object(
  {
    id: Type.String({ examples: ['6916cbc709d9eedb316de5c3'] }),
    username: Type.String(),
    email: Type.String(),
    full_name: Type.Union([Type.String(), Type.Null()]),
    role: RoleSchema,
    created_at: Type.String({ format: 'date-time' }),
    qr_code: Type.Union([Type.String({ description: 'base64 PNG' }), Type.Null()]),
    email_verified: Type.Boolean({ description: 'The user proved they read this email (verification or reset link)' }),
    disabled: Type.Boolean({ description: 'Disabled users cannot log in, refresh or use their tokens' }),
  },
  { title: 'UserResponse' },
);
export type UserResponse = Static<typeof UserResponseSchema>;

/** The user the examples of the document show. */
export const USER_EXAMPLE: UserResponse = {
  id: '6916cbc709d9eedb316de5c3',
  username: 'alice',
  email: 'alice@example.com',
  full_name: 'Alice Liddell',
  role: 'student',
  created_at: '2025-11-14T08:30:00.000Z',
  qr_code: null,
  email_verified: true,
  disabled: false,
};

export function toUserResponse(user: User): UserResponse {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    full_name: user.fullName,
    role: user.role,
    created_at: user.createdAt.toISOString(),
    qr_code: user.qrCode,
    email_verified: user.emailVerified,
    disabled: user.disabled,
  };
}

export const UserIdParamsSchema = Type.Object({ user_id: UserIdSchema });

export const ListUsersQuerySchema = defaultsOptional(Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50, description: 'Page size (1–200)' }),
    cursor: Type.Optional(UserIdSchema),
    role: Type.Optional(RoleSchema),
    q: Type.Optional(
      Type.String({ minLength: 1, maxLength: 254, ...TEXT, description: 'Email or username prefix' }),
    ),
  },
  { additionalProperties: false },
));

/** PATCH /users/{user_id}: an admin may send every field; a user only their own full_name and username. */
export const UpdateUserBodySchema = Type.Object(
  {
    username: Type.Optional(UsernameSchema),
    email: Type.Optional(EmailSchema),
    full_name: Type.Optional(FullNameSchema),
    role: Type.Optional(RoleSchema),
    disabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, title: 'UpdateUser' },
);

export const DeleteUserResponseSchema = Type.Object(
  { message: Type.String(), user_id: Type.String() },
  { examples: [{ message: 'User deleted successfully', user_id: '6916cbc709d9eedb316de5c3' }] },
);
