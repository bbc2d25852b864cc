/**
 * `npm run admin -- create --email E --username U [--full-name N] [--role admin|teacher|student]`
 * creates a user by hand (the first admin, typically) in the configured database; the password
 * is read from standard input (one line) so it stays out of shell history and `ps`, or from
 * `--password` when you accept that.
 * `npm run admin -- promote --email E` makes an existing user an admin.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createPasswordHasher } from '../auth/passwords.js';
import { loadConfig } from '../config.js';
import { AppError, ValidationFailed } from '../errors.js';
import { openStore } from '../store/open.js';
import { ROLES, type Role } from '../store/store.js';
import { createUserService } from '../users/user-service.js';

const USAGE = `Usage:
  npm run admin -- create --email <email> --username <name> [--full-name <name>] [--role admin|teacher|student] [--password <pw>]
      (without --password, the password is read from standard input)
  npm run admin -- promote --email <email>`;

async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Password: ');
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  return '';
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      email: { type: 'string' },
      username: { type: 'string' },
      'full-name': { type: 'string' },
      role: { type: 'string', default: 'admin' },
      password: { type: 'string' },
    },
  });
  const command = positionals[0];
  if ((command !== 'create' && command !== 'promote') || values.email === undefined) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const config = loadConfig();
  const store = await openStore(config.database);
  try {
    if (command === 'promote') {
      const user = await store.findUserByEmail(values.email);
      if (user === null) {
        process.stderr.write(`No user has the email ${values.email}\n`);
        return 1;
      }
      await store.updateUser(user.id, { role: 'admin' });
      process.stdout.write(`${user.email} (${user.id}) is now an admin\n`);
      return 0;
    }
    const role = values.role as Role;
    if (!(ROLES as readonly string[]).includes(role) || values.username === undefined) {
      process.stderr.write(`${USAGE}\n`);
      return 2;
    }
    const password = values.password ?? (await readPassword());
    const users = createUserService({
      store,
      passwords: createPasswordHasher(),
      rules: { minPasswordLength: config.passwords.minLength, maxPasswordBytes: config.passwords.maxBytes },
    });
    const admin = await store.findUserByEmail(values.email);
    if (admin !== null) {
      process.stderr.write(`A user with ${values.email} exists already (role ${admin.role}); use promote\n`);
      return 1;
    }
    // The CLI holds an admin's authority: whoever runs it can reach the database anyway.
    const user = await users.createWithRole({
      username: values.username,
      email: values.email,
      password,
      fullName: values['full-name'] ?? null,
      role,
    });
    process.stdout.write(`Created ${user.role} ${user.email} (${user.id})\n`);
    return 0;
  } catch (error) {
    if (error instanceof ValidationFailed) process.stderr.write(`${error.message}\n`);
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
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
