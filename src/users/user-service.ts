/**
 * The rules about users: who may see, create and delete whom, what must be unique, how
 * passwords are checked and upgraded. Routes call this; this calls the Store.
 */
import type { AuditLog, RequestContext } from '../audit/audit-log.js';
import type { EmailVerificationService } from '../auth/recovery/email-verification-service.js';
import { createLoginThrottle, type LoginThrottle, userSubject } from '../auth/login/login-throttle.js';
import type { PasswordHasher } from '../auth/passwords/passwords.js';
import type { SessionService } from '../auth/sessions/session-service.js';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { AppError, errors, ValidationFailed } from '../errors.js';
import { Conflict, LastAdmin, type Role, type Store, type User, type UserPatch } from '../store/store.js';
import { newId } from './ids.js';
import { normalizeUsername, usernameProblem } from './usernames.js';

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

/** What PATCH /users/{id} may change; undefined leaves a field alone. */
export interface UserChanges {
  username?: string;
  email?: string;
  fullName?: string | null;
  role?: Role;
  disabled?: boolean;
}

export interface UserService {
  /** Public registration (actor null) creates students; an admin actor may create any role. */
  register(input: Registration, actor: User | null, context?: RequestContext): Promise<User>;
  /** Creates a user with any role, for callers that hold an admin's authority (CLI, bootstrap). */
  createWithRole(input: Registration & { role: Role }): Promise<User>;
  /**
   * Email (or username) + password login; one answer for an unknown account and a wrong password.
   * Attempts are counted and locked (auth/login/login-throttle.ts) for unknown accounts exactly as for
   * known ones.
   */
  login(login: string, password: string, context: RequestContext): Promise<User>;
  /**
   * Re-checks a signed-in user's password (before a password change). Attempts count with logins
   * and the same locks apply: a stolen access token must not buy unlimited guesses.
   */
  verifyPassword(user: User, password: string, context: RequestContext): Promise<boolean>;
  /** The user a login string (an email, or a username) names, if any. */
  findByLogin(login: string): Promise<User | null>;
  findById(id: string): Promise<User | null>;
  /** The user `id` as seen by `actor`: themselves, or anyone for an admin. */
  getVisible(actor: User, id: string): Promise<User>;
  list(actor: User, query: UserListQuery): Promise<{ users: User[]; nextCursor: string | null }>;
  remove(actor: User, id: string, context?: RequestContext): Promise<void>;
  /** An admin creates a user with any role (POST /users). */
  createByAdmin(actor: User, input: Registration, context?: RequestContext): Promise<User>;
  /**
   * An admin changes anything of anyone; a user only their own full name and username. A new role
   * or disabling revokes every session and access token of the user at once.
   */
  update(actor: User, id: string, changes: UserChanges, context?: RequestContext): Promise<User>;
  /**
   * A user moves their own account to another email: the password again (counted with the logins,
   * as every re-check is), a valid address nobody else has. The new address is unverified until its
   * link is opened, links already mailed stop working, a verification mail goes to the new address
   * and a notice to the old one: whoever took over a session cannot move the account away unseen.
   */
  changeOwnEmail(user: User, input: { email: string; password: string }, context: RequestContext): Promise<User>;
  setQrCode(id: string, qrCode: string): Promise<User>;
  /** Creates the bootstrap admin when no user has this email; returns whether it did. */
  ensureAdmin(admin: { email: string; password: string; username: string; fullName?: string | null }): Promise<boolean>;
}

export interface PasswordRules {
  minPasswordLength: number;
  maxPasswordBytes: number;
}

/** The rules every new password meets (registration, change, reset); `field` names it in the 422. */
export function checkPasswordRules(password: string, rules: PasswordRules, field = 'password'): void {
  if ([...password].length < rules.minPasswordLength) {
    throw new ValidationFailed([
      {
        loc: ['body', field],
        msg: `Password must be at least ${rules.minPasswordLength} characters`,
        type: 'string_too_short',
      },
    ]);
  }
  if (Buffer.byteLength(password, 'utf8') > rules.maxPasswordBytes) {
    throw new ValidationFailed([
      {
        loc: ['body', field],
        msg: `Password must be at most ${rules.maxPasswordBytes} bytes of UTF-8`,
        type: 'string_too_long',
      },
    ]);
  }
}

export interface UserServiceDeps {
  store: Store;
  passwords: PasswordHasher;
  rules: PasswordRules;
  /** Where security events go; none for the CLI. */
  audit?: AuditLog;
  /** Counts and locks password attempts; one over the same store by default. */
  throttle?: LoginThrottle;
  /** Revokes a user's sessions and tokens on a role change or disabling; required by `update`. */
  sessions?: Pick<SessionService, 'revokeEverything'>;
  /** The mails of an email change (the new address's link, the old address's notice); required by `changeOwnEmail`. */
  emailMails?: Pick<EmailVerificationService, 'request' | 'announceChange'>;
}

/** 403, not 401: the caller is signed in; a 401 makes clients sign in again. */
const wrongPassword = () => new AppError(403, 'INVALID_PASSWORD', 'The password is not correct');

export function createUserService(deps: UserServiceDeps): UserService {
  const { store, passwords, rules } = deps;
  const audit = deps.audit;
  const throttle = deps.throttle ?? createLoginThrottle({ store, audit });
  const checkNewPassword = (password: string) => checkPasswordRules(password, rules);

  /** The NFKC form of a new username, or a 422 naming what is wrong with it. */
  function checkNewUsername(raw: string): string {
    const username = normalizeUsername(raw);
    const problem = usernameProblem(username);
    if (problem !== null) throw new ValidationFailed([{ loc: ['body', 'username'], msg: problem, type: 'value_error' }]);
    return username;
  }

  /** Names are shown in lists, logs and exports: no control characters, 200 characters at most. */
  function checkFullName(name: string | null | undefined): void {
    if (name === null || name === undefined) return;
    if ([...name].length > 200 || /\p{Cc}/u.test(name)) {
      throw new ValidationFailed([
        { loc: ['body', 'full_name'], msg: 'The name must be at most 200 characters, with no control characters', type: 'value_error' },
      ]);
    }
  }

  /** A check that never ran (429 BUSY: the hashing queue was full) is no attempt: taken back. */
  async function uncounted<T>(subject: string, context: RequestContext, check: Promise<T>): Promise<T> {
    try {
      return await check;
    } catch (error) {
      if (error instanceof AppError && error.code === 'BUSY') await throttle.takeBack(subject, context);
      throw error;
    }
  }

  async function verifyPassword(user: User, password: string, context: RequestContext): Promise<boolean> {
    const subject = userSubject(user.id);
    await throttle.claim(subject, context);
    const ok =
      Buffer.byteLength(password, 'utf8') <= rules.maxPasswordBytes &&
      (await uncounted(subject, context, passwords.verify(user.passwordHash, password))).ok;
    if (!ok) {
      await audit?.record('login.failed', { userId: user.id, context, detail: { reason: 'wrong_current_password' } });
    } else if (user.totpEnabled) {
      await throttle.takeBack(subject, context);
    } else {
      await throttle.succeeded(subject, context);
    }
    return ok;
  }

  // No email or username holds a control character (and PostgreSQL refuses to compare text with
  // a NUL in it): such a login names nobody, answered like any unknown account.
  const findByLogin = (login: string) =>
    /\p{Cc}/u.test(login)
      ? Promise.resolve(null)
      : login.includes('@')
        ? store.findUserByEmail(login)
        : store.findUserByUsername(normalizeUsername(login));

  /**
   * What the API's EmailSchema checks (ajv-formats' "email", 254 characters), for the callers
   * that bypass it (CLI, ADMIN_EMAIL, the pages): else a user is created who cannot sign in by email.
   */
  function checkEmail(email: string): void {
    if (email.length > 254 || !(fullFormats.email as RegExp).test(email)) {
      throw new ValidationFailed([{ loc: ['body', 'email'], msg: 'value is not a valid email address', type: 'value_error' }]);
    }
  }

  async function create(input: Registration & { role: Role }): Promise<User> {
    checkEmail(input.email);
    const username = checkNewUsername(input.username);
    checkFullName(input.fullName);
    checkNewPassword(input.password);
    // A cheap look-up first spares an argon2 hash for the common duplicate; the unique indexes
    // still decide races (20 concurrent registrations of one email: exactly one wins).
    const [byEmail, byUsername] = await Promise.all([
      store.findUserByEmail(input.email),
      store.findUserByUsername(username),
    ]);
    if (byEmail !== null || byUsername !== null) throw errors.userExists();
    const passwordHash = await passwords.hash(input.password);
    try {
      return await store.insertUser({
        id: newId(),
        username,
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

  /** A store write that may meet the last-admin guard, with its refusal as 409 LAST_ADMIN. */
  async function guardingLastAdmin<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (error instanceof LastAdmin) throw errors.lastAdmin();
      throw error;
    }
  }

  /** The fields of `changes` that differ from `target`, as a store patch. */
  function diff(target: User, changes: UserChanges): UserPatch {
    const patch: UserPatch = {};
    if (changes.username !== undefined && changes.username !== target.username) patch.username = changes.username;
    if (changes.fullName !== undefined && changes.fullName !== target.fullName) patch.fullName = changes.fullName;
    if (changes.role !== undefined && changes.role !== target.role) patch.role = changes.role;
    if (changes.disabled !== undefined && changes.disabled !== target.disabled) patch.disabled = changes.disabled;
    if (changes.email !== undefined && changes.email !== target.email) {
      // Nobody has proved they read the new address yet.
      Object.assign(patch, { email: changes.email, emailVerified: false });
    }
    return patch;
  }

  /**
   * Writes `changes` to `target` once the caller may make them: the rules every change of a user
   * keeps (a valid username, a username and email nobody else has, a name without control characters, the last admin),
   * and what follows a change (revoked tokens, void links, the audit).
   */
  async function applyChanges(actor: User, target: User, changes: UserChanges, context?: RequestContext): Promise<User> {
    const id = target.id;
    const username = changes.username === undefined ? undefined : checkNewUsername(changes.username);
    checkFullName(changes.fullName);
    if (changes.email !== undefined) checkEmail(changes.email);
    const patch = diff(target, { ...changes, username });
    if (Object.keys(patch).length === 0) return target;
    const [byEmail, byUsername] = await Promise.all([
      patch.email === undefined ? null : store.findUserByEmail(patch.email),
      patch.username === undefined ? null : store.findUserByUsername(patch.username),
    ]);
    if ((byEmail !== null && byEmail.id !== id) || (byUsername !== null && byUsername.id !== id)) throw errors.userExists();
    const revoke = patch.role !== undefined || patch.disabled === true;
    if (revoke && deps.sessions === undefined) throw new Error('createUserService: `sessions` is required to revoke tokens');

    let updated: User | null;
    try {
      // Someone must always be able to administer: the store refuses, atomically, a demotion or
      // disabling that would leave no enabled admin (409 LAST_ADMIN).
      updated = await guardingLastAdmin(() => store.updateUser(id, patch, { keepEnabledAdmin: true }));
    } catch (error) {
      // The unique indexes decide a race the look-up above lost.
      if (error instanceof Conflict) throw errors.userExists();
      throw error;
    }
    if (updated === null) throw errors.userNotFound();
    // The new role or the disabling counts everywhere at once: the bumped token version kills
    // access tokens already handed out, revoked sessions kill their refresh tokens.
    if (revoke) await deps.sessions?.revokeEverything(id);
    if (patch.email !== undefined) {
      // Links already mailed to the old address must not reset the password or verify anything now.
      await store.oneTimeTokens.deleteForUser(id, 'password_reset');
      await store.oneTimeTokens.deleteForUser(id, 'email_verify');
    }

    const entry = { userId: id, actorId: actor.id, context };
    const fields = (['username', 'email', 'fullName'] as const).filter((f) => patch[f] !== undefined);
    if (fields.length > 0) {
      const detail: Record<string, unknown> = { fields: fields.map((f) => (f === 'fullName' ? 'full_name' : f)) };
      if (patch.email !== undefined) Object.assign(detail, { email_from: target.email, email_to: patch.email });
      await audit?.record('user.updated', { ...entry, detail });
    }
    if (patch.role !== undefined) {
      await audit?.record('user.role_changed', { ...entry, detail: { from: target.role, to: patch.role } });
    }
    if (patch.disabled !== undefined) await audit?.record(patch.disabled ? 'user.disabled' : 'user.enabled', entry);
    return updated;
  }

  return {
    async register(input, actor, context) {
      const role = input.role ?? 'student';
      // The old service let anyone register as admin (defect 1).
      if (role !== 'student' && actor?.role !== 'admin') throw errors.roleForbidden(role);
      const user = await create({ ...input, role });
      await audit?.record(actor === null ? 'user.registered' : 'user.created', {
        userId: user.id,
        actorId: actor?.id ?? null,
        context,
        detail: { role },
      });
      return user;
    },

    createWithRole: create,

    async login(login, password, context) {
      if (Buffer.byteLength(password, 'utf8') > rules.maxPasswordBytes) throw errors.badCredentials();
      // An email, or (the OAuth2 form's "username") a username.
      const user = await findByLogin(login);
      const subject = throttle.subjectOf(user, login);
      // Counted before the password is checked, for unknown accounts as for known ones.
      await throttle.claim(subject, context);
      if (user === null) {
        // Same answer and about the same time as a wrong password: no user enumeration.
        await uncounted(subject, context, passwords.verifyDummy(password));
        await audit?.record('login.failed', { context, detail: { reason: 'unknown_account' } });
        throw errors.badCredentials();
      }
      const check = await uncounted(subject, context, passwords.verify(user.passwordHash, password));
      if (!check.ok) {
        await audit?.record('login.failed', { userId: user.id, context, detail: { reason: 'wrong_password' } });
        throw errors.badCredentials();
      }
      if (user.disabled) throw errors.accountDisabled();
      // With a second factor on, the counts start again only once it passes (totp-service): else
      // whoever knows the password would wipe what wrong codes built up, and guess codes for ever.
      if (user.totpEnabled) await throttle.takeBack(subject, context);
      else await throttle.succeeded(subject, context);
      if (!check.needsRehash) return user;
      return (await store.updateUser(user.id, { passwordHash: await passwords.hash(password) })) ?? user;
    },

    verifyPassword,

    findByLogin,

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

    async remove(actor, id, context) {
      if (actor.role !== 'admin' && actor.id !== id) throw errors.forbidden();
      const target = await store.findUserById(id);
      if (target === null) throw errors.userNotFound();
      // Sessions and pending tokens go with the user; their access tokens fail the user look-up.
      // The last enabled admin stays (atomically, in the store: two admins deleting each other
      // at once cannot leave none).
      if (!(await guardingLastAdmin(() => store.deleteUser(id, { keepEnabledAdmin: true })))) throw errors.userNotFound();
      await throttle.lift(id);
      await audit?.record('user.deleted', { userId: id, actorId: actor.id, context, detail: { email: target.email } });
    },

    async createByAdmin(actor, input, context) {
      if (actor.role !== 'admin') throw errors.adminRequired();
      const user = await create({ ...input, role: input.role ?? 'student' });
      await audit?.record('user.created', { userId: user.id, actorId: actor.id, context, detail: { role: user.role } });
      return user;
    },

    async update(actor, id, changes, context) {
      const isAdmin = actor.role === 'admin';
      // A non-admin learns nothing about other ids, not even whether they exist.
      if (!isAdmin && actor.id !== id) throw errors.forbidden();
      if (!isAdmin && (changes.role !== undefined || changes.disabled !== undefined || changes.email !== undefined)) {
        throw errors.forbidden('Only an admin may change a role, disable an account or change an email');
      }
      const target = actor.id === id ? actor : await store.findUserById(id);
      if (target === null) throw errors.userNotFound();
      return applyChanges(actor, target, changes, context);
    },

    async changeOwnEmail(user, input, context) {
      const mails = deps.emailMails;
      if (mails === undefined) throw new Error('createUserService: `emailMails` is required to change an email');
      // The cheap checks first: a malformed or unchanged address costs no attempt at the password.
      checkEmail(input.email);
      if (input.email.toLowerCase() === user.email.toLowerCase()) {
        throw new ValidationFailed([{ loc: ['body', 'email'], msg: 'This is your email address already', type: 'value_error' }]);
      }
      // The password before the address is looked up: without it, nobody learns which addresses are taken.
      if (!(await verifyPassword(user, input.password, context))) throw wrongPassword();
      const updated = await applyChanges(user, user, { email: input.email }, context);
      await mails.request(updated, context);
      mails.announceChange(user.email, updated, context);
      return updated;
    },

    async setQrCode(id, qrCode) {
      const user = await store.updateUser(id, { qrCode });
      if (user === null) throw errors.userNotFound();
      return user;
    },

    async ensureAdmin(admin) {
      if ((await store.findUserByEmail(admin.email)) !== null) return false;
      try {
        const user = await create({
          username: admin.username,
          email: admin.email,
          password: admin.password,
          fullName: admin.fullName ?? null,
          role: 'admin',
        });
        await audit?.record('user.created', { userId: user.id, detail: { role: 'admin', actor: 'ADMIN_EMAIL at start-up' } });
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
