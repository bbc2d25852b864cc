/**
 * `npm run admin -- create --email E --username U [--full-name N] [--role admin|teacher|student]`
 * creates a user by hand (the first admin, typically) in the configured database. The password
 * is asked for on a terminal (not echoed, asked twice) or read as one line from standard input,
 * so it stays out of shell history and `ps`; or from `--password` when you accept that.
 * `npm run admin -- promote --email E` makes an existing user an admin.
 * `npm run admin -- clients add|list|remove` manages the OpenID Connect clients (cli/clients.ts).
 *
 * Both go through the user rules (user-service.ts) and leave an audit event whose detail names
 * the command line as the actor: GET /admin/audit shows who changed what, by API or by hand.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { createAuditLog } from '../audit/audit-log.js';
import { createPasswordHasher } from '../auth/passwords/passwords.js';
import { ConfigError, loadConfig } from '../config.js';
import { AppError, ValidationFailed } from '../errors.js';
import { openStore } from '../store/open.js';
import { ROLES, type Role } from '../store/store.js';
import { createUserService } from '../users/user-service.js';
import { PromptInterrupted, readPassword } from './read-password.js';

const USAGE = `Usage:
  npm run admin -- create --email <email> --username <name> [--full-name <name>]
                          [--role admin|teacher|student] [--password <pw>]
      Creates a user (an admin unless --role says otherwise). Without --password the password is
      asked for on a terminal (not shown), or read as one line from standard input.
  npm run admin -- promote --email <email>
      Makes an existing user an admin.
  npm run admin -- clients add --name <name> [--redirect-uri <uri>]... [--public] [--trusted]
                               [--scope <scope>]... [--rs256]
      Registers an OpenID Connect client (an app); its secret is printed once.
  npm run admin -- clients list
  npm run admin -- clients remove <client_id>
  npm run admin -- --help
`;

const OPTIONS = {
  email: { type: 'string' },
  username: { type: 'string' },
  'full-name': { type: 'string' },
  role: { type: 'string', default: 'admin' },
  password: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  name: { type: 'string' },
  'redirect-uri': { type: 'string', multiple: true },
  scope: { type: 'string', multiple: true },
  public: { type: 'boolean' },
  trusted: { type: 'boolean' },
  rs256: { type: 'boolean' },
} as const;

/** A usage error: what was wrong first, then how it is used (exit 2). */
class UsageError extends Error {}
/** The command was understood but cannot go on (exit 1). */
class CommandFailed extends Error {}

/** Who ran the command, for the audit log: the CLI holds no account, so the OS account stands in. */
function cliActor(command: string): Record<string, unknown> {
  let osUser: string;
  try {
    osUser = os.userInfo().username;
  } catch {
    osUser = `uid ${process.getuid?.() ?? 'unknown'}`; // no passwd entry (some containers)
  }
  return { actor: 'cli', command: `admin ${command}`, os_user: osUser, host: os.hostname() };
}

/** The user rules' messages, with the option that carried the value. */
function explainValidation(error: ValidationFailed): string {
  const option: Record<string, string> = { email: '--email', username: '--username', password: 'the password' };
  return error.issues
    .map((issue) => {
      const field = String(issue.loc.at(-1));
      return `${option[field] ?? field}: ${issue.msg}`;
    })
    .join('\n');
}

async function askPassword(): Promise<string> {
  const io = { input: process.stdin, output: process.stderr };
  const password = await readPassword('Password: ', io);
  if (password === null || password === '') throw new CommandFailed('No password given (type it, pipe it in, or use --password); nothing was changed');
  if (process.stdin.isTTY) {
    // Nothing to look at while typing, so a typo would go unnoticed: ask again.
    const again = await readPassword('Repeat the password: ', io);
    if (again !== password) throw new CommandFailed('The two passwords differ; nothing was changed');
  }
  return password;
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { positionals, values } = parsed;
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  const command = positionals[0];
  if (command === 'clients') return (await import('./clients.js')).clientsCommand(positionals.slice(1), values, cliActor(`clients ${positionals[1] ?? ''}`.trim()));
  if (command === undefined) throw new UsageError('Missing command: create, promote or clients');
  if (command !== 'create' && command !== 'promote') throw new UsageError(`Unknown command: ${command}`);
  if (positionals.length > 1) throw new UsageError(`Unexpected argument: ${positionals[1]}`);
  if (values.email === undefined) throw new UsageError(`${command} needs --email`);
  const role = values.role as Role;
  if (command === 'create') {
    if (!(ROLES as readonly string[]).includes(role)) {
      throw new UsageError(`--role must be one of ${ROLES.join(', ')} (got "${values.role}")`);
    }
    if (values.username === undefined) throw new UsageError('create needs --username');
  }

  const config = loadConfig();
  const store = await openStore(config.database);
  const audit = createAuditLog(store, {
    error: (fields: unknown) => {
      const cause = (fields as { err?: Error })?.err?.message ?? 'unknown error';
      process.stderr.write(`Warning: the audit event was not recorded (${cause})\n`);
    },
  });
  try {
    if (command === 'promote') {
      const user = await store.findUserByEmail(values.email);
      if (user === null) {
        process.stderr.write(`No user has the email ${values.email}\n`);
        return 1;
      }
      if (user.role === 'admin') {
        process.stdout.write(`${user.email} (${user.id}) is an admin already\n`);
        return 0;
      }
      await store.updateUser(user.id, { role: 'admin' });
      await audit.record('user.role_changed', {
        userId: user.id,
        detail: { from: user.role, to: 'admin', ...cliActor('promote') },
      });
      process.stdout.write(`${user.email} (${user.id}) is now an admin\n`);
      return 0;
    }

    const existing = await store.findUserByEmail(values.email);
    if (existing !== null) {
      process.stderr.write(`A user with ${values.email} exists already (role ${existing.role}); use promote\n`);
      return 1;
    }
    const password = values.password ?? (await askPassword());
    const users = createUserService({
      store,
      passwords: createPasswordHasher(),
      rules: { minPasswordLength: config.passwords.minLength, maxPasswordBytes: config.passwords.maxBytes },
    });
    // The CLI holds an admin's authority: whoever runs it can reach the database anyway.
    const user = await users.createWithRole({
      username: values.username as string,
      email: values.email,
      password,
      fullName: values['full-name'] ?? null,
      role,
    });
    await audit.record('user.created', { userId: user.id, detail: { role: user.role, ...cliActor('create') } });
    process.stdout.write(`Created ${user.role} ${user.email} (${user.id})\n`);
    return 0;
  } catch (error) {
    if (error instanceof ValidationFailed) process.stderr.write(`${explainValidation(error)}\n`);
    else if (error instanceof CommandFailed) process.stderr.write(`${error.message}\n`);
    else if (error instanceof AppError) process.stderr.write(`${error.detail}\n`);
    else throw error;
    return 1;
  } finally {
    await store.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n\n${USAGE}`);
      process.exit(2);
    }
    if (error instanceof PromptInterrupted) process.exit(130);
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(error instanceof ConfigError ? 78 : 1);
  },
);
