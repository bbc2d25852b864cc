/**
 * The Store: the one port between the service and its database.
 *
 * Small on purpose: every implementation (SQLite, PostgreSQL, MongoDB) converts rows or
 * documents to these domain types at its own edge and passes test/store/contract.ts.
 * Not found is `null`; a unique violation is a `Conflict`; an unreachable database is a
 * `StoreUnavailable`. Rules (who may do what, hashing, validation) live in the services.
 */

export const ROLES = ['student', 'teacher', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface User {
  /** 24 lowercase hex characters, ObjectId form (see users/ids.ts). */
  id: string;
  username: string;
  /** Stored as given; unique and looked up case-insensitively. */
  email: string;
  /** argon2id PHC string, or a legacy bcrypt hash from the old service until the next login. */
  passwordHash: string;
  fullName: string | null;
  role: Role;
  createdAt: Date;
  /** Base64 PNG of the user's last generated QR code, as the old service stored it. */
  qrCode: string | null;
}

export type NewUser = Omit<User, 'qrCode'> & { qrCode?: string | null };

export type UserPatch = Partial<Pick<User, 'username' | 'email' | 'passwordHash' | 'fullName' | 'role' | 'qrCode'>>;

export interface ListUsersQuery {
  /** Page size, already bounded by the caller. */
  limit: number;
  /** Keyset cursor: return users whose id sorts after this one. */
  after?: string;
  role?: Role;
  /** Case-insensitive prefix of the email or of the username; LIKE wildcards match literally. */
  prefix?: string;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres' | 'mongodb';
  /** Applies migrations / creates indexes. Idempotent; called once at start-up. */
  migrate(): Promise<void>;
  insertUser(user: NewUser): Promise<User>;
  findUserById(id: string): Promise<User | null>;
  findUserByEmail(email: string): Promise<User | null>;
  findUserByUsername(username: string): Promise<User | null>;
  /** Users ordered by id ascending (keyset paging). */
  listUsers(query: ListUsersQuery): Promise<User[]>;
  countUsers(filter?: { role?: Role }): Promise<number>;
  updateUser(id: string, patch: UserPatch): Promise<User | null>;
  /** Deletes the user and everything that belongs to them; false when there was no such user. */
  deleteUser(id: string): Promise<boolean>;
  /** Resolves when the database answers; rejects with StoreUnavailable otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A unique constraint was violated. `field` names which one, when the database tells. */
export class Conflict extends Error {
  constructor(readonly field: 'email' | 'username' | 'id' | 'unknown') {
    super(`unique constraint violated: ${field}`);
    this.name = 'Conflict';
  }
}

/** The database could not be reached or did not answer in time. */
export class StoreUnavailable extends Error {
  constructor(message = 'database unavailable', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailable';
  }
}
