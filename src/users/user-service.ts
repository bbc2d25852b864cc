/**
 * The rules about users: who may see, create and delete whom, what must be unique, how
 * passwords are checked and upgraded. Routes call this; this calls the Store.
 */
import type { PasswordHasher } from '../auth/passwords.js';
import { AppError, errors, ValidationFailed } from '../errors.js';
import { Conflict, type Role, type Store, type User } from '../store/store.js';
import { newId } from './ids.js';

export interface Registration {
  username: string;
  email: string;
  password: string;
  fullName: string | null;
  role?: Role;
}

export interface UserListQuery {
  limit: number;
  cursor?: string;
  role?: Role;
  q?: string;
}

export interface UserService {
  /** Public registration (actor null) creates students; an admin actor may create any role. */
  register(input: Registration, actor: User | null): Promise<User>;
  /** Creates a user with any role, for callers that hold an admin's authority (CLI, bootstrap). */
  createWithRole(input: Registration & { role: Role }): Promise<User>;
  /** Email + password login; one answer for unknown email and wrong password. */
  login(email: string, password: string): Promise<User>;
  findById(id: string): Promise<User | null>;
  /** The user `id` as seen by `actor`: themselves, or anyone for an admin. */
  getVisible(actor: User, id: string): Promise<User>;
  list(actor: User, query: UserListQuery): Promise<{ users: User[]; nextCursor: string | null }>;
  remove(actor: User, id: string): Promise<void>;
  setQrCode(id: string, qrCode: string): Promise<User>;
  /** Creates the bootstrap admin when no user has this email; returns whether it did. */
  ensureAdmin(admin: { email: string; password: string; username: string; fullName?: string | null }): Promise<boolean>;
}

export function createUserService(
  store: Store,
  passwords: PasswordHasher,
  rules: { minPasswordLength: number; maxPasswordBytes: number },
): UserService {
  function checkNewPassword(password: string): void {
    const bytes = Buffer.byteLength(password, 'utf8');
    if ([...password].length < rules.minPasswordLength) {
      throw new ValidationFailed([
        {
          loc: ['body', 'password'],
          msg: `Password must be at least ${rules.minPasswordLength} characters`,
          type: 'string_too_short',
        },
      ]);
    }
    if (bytes > rules.maxPasswordBytes) {
      throw new ValidationFailed([
        {
          loc: ['body', 'password'],
          msg: `Password must be at most ${rules.maxPasswordBytes} bytes of UTF-8`,
          type: 'string_too_long',
        },
      ]);
    }
  }

  async function create(input: Registration & { role: Role }): Promise<User> {
    checkNewPassword(input.password);
    // A cheap look-up first spares an argon2 hash for the common duplicate; the unique indexes
    // still decide races (20 concurrent registrations of one email: exactly one wins).
    const [byEmail, byUsername] = await Promise.all([
      store.findUserByEmail(input.email),
      store.findUserByUsername(input.username),
    ]);
    if (byEmail !== null || byUsername !== null) throw errors.userExists();
    const passwordHash = await passwords.hash(input.password);
    try {
      return await store.insertUser({
        id: newId(),
        username: input.username,
        email: input.email,
        passwordHash,
        fullName: input.fullName,
        role: input.role,
        createdAt: new Date(),
      });
    } catch (error) {
      if (error instanceof Conflict) throw errors.userExists();
      throw error;
    }
  }

  async function assertNotLastAdmin(target: User): Promise<void> {
    if (target.role === 'admin' && (await store.countUsers({ role: 'admin' })) <= 1) throw errors.lastAdmin();
  }

  return {
    async register(input, actor) {
      const role = input.role ?? 'student';
      // The old service let anyone register as admin (defect 1).
      if (role !== 'student' && actor?.role !== 'admin') throw errors.roleForbidden(role);
      return create({ ...input, role });
    },

    createWithRole: create,

    async login(email, password) {
      if (Buffer.byteLength(password, 'utf8') > rules.maxPasswordBytes) throw errors.badCredentials();
      const user = await store.findUserByEmail(email);
      if (user === null) {
        // Same answer and about the same time as a wrong password: no user enumeration.
        await passwords.verifyDummy(password);
        throw errors.badCredentials();
      }
      const check = await passwords.verify(user.passwordHash, password);
      if (!check.ok) throw errors.badCredentials();
      if (check.needsRehash) {
        const passwordHash = await passwords.hash(password);
        return (await store.updateUser(user.id, { passwordHash })) ?? user;
      }
      return user;
    },

    findById: (id) => store.findUserById(id),

    async getVisible(actor, id) {
      // A non-admin learns nothing about other ids, not even whether they exist.
      if (actor.role !== 'admin' && actor.id !== id) throw errors.forbidden();
      const user = actor.id === id ? actor : await store.findUserById(id);
      if (user === null) throw errors.userNotFound();
      return user;
    },

    async list(actor, query) {
      if (actor.role !== 'admin') throw errors.adminRequired();
      // Ask for one more than the page to know whether a next page exists.
      const rows = await store.listUsers({
        limit: query.limit + 1,
        after: query.cursor,
        role: query.role,
        prefix: query.q,
      });
      const users = rows.slice(0, query.limit);
      const last = users.at(-1);
      return { users, nextCursor: rows.length > query.limit && last !== undefined ? last.id : null };
    },

    async remove(actor, id) {
      if (actor.role !== 'admin' && actor.id !== id) throw errors.forbidden();
      const target = await store.findUserById(id);
      if (target === null) throw errors.userNotFound();
      await assertNotLastAdmin(target);
      if (!(await store.deleteUser(id))) throw errors.userNotFound();
    },

    async setQrCode(id, qrCode) {
      const user = await store.updateUser(id, { qrCode });
      if (user === null) throw errors.userNotFound();
      return user;
    },

    async ensureAdmin(admin) {
      if ((await store.findUserByEmail(admin.email)) !== null) return false;
      try {
        await create({
          username: admin.username,
          email: admin.email,
          password: admin.password,
          fullName: admin.fullName ?? null,
          role: 'admin',
        });
        return true;
      } catch (error) {
        if (error instanceof AppError && error.code === 'USER_EXISTS') {
          // Another instance starting at the same moment created it first: fine.
          if ((await store.findUserByEmail(admin.email)) !== null) return false;
          throw new Error(`Cannot create the admin ${admin.email}: the username "${admin.username}" is taken (set ADMIN_USERNAME)`);
        }
        throw error;
      }
    },
  };
}
