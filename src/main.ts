/**
 * Process entry: config -> store -> app -> listen; SIGTERM/SIGINT drain in-flight requests,
 * close the database and exit. Once listening, a few lines say where everything is.
 */
import { createRequire } from 'node:module';
import { pino } from 'pino';
import { buildApp, REDACT_PATHS } from './app.js';
import { describeKeyLocation, resolveKeySet } from './auth/tokens/keys.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { ValidationFailed } from './errors.js';
import { createBatchedDestination } from './logging/batched-destination.js';
import { createPurger } from './maintenance/purger.js';
import { openStore } from './store/open.js';
import type { Store } from './store/store.js';

/** Longest a shutdown may take before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }

  // Readable lines on a terminal in development, JSON everywhere else (production, pipes, CI).
  // pino-pretty is a development dependency: a production install (the image) has none, and falls
  // back to JSON lines even on a terminal.
  const pretty = config.nodeEnv !== 'production' && process.stdout.isTTY === true && installed('pino-pretty');
  // JSON lines go out asynchronously, in batches (logging/batched-destination.ts). What is still
  // gathered is written on every exit: the ones below, a failed start-up, an uncaught exception.
  const destination = pretty ? undefined : createBatchedDestination({ fd: 1, flushOnExit: true });
  const log = pretty
    ? pino({
        level: config.logLevel,
        redact: REDACT_PATHS,
        transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } },
      })
    : pino({ level: config.logLevel, redact: REDACT_PATHS }, destination);
  // The destination writes the log's tail on exit (flushOnExit).
  const exit = (code: number): never => process.exit(code);

  const keys = resolveKeySet(config, { info: (m) => log.info(m), warn: (m) => log.warn(m) });
  const store = await openStore(config.database, { warn: (m) => log.warn(m) });
  const { app, users, health } = await buildApp({ config, store, keys, logger: log });

  if (config.admin !== null) {
    let created: boolean;
    try {
      created = await users.ensureAdmin(config.admin);
    } catch (error) {
      // The user rules' own words, said about the variable that carried the value.
      if (!(error instanceof ValidationFailed)) throw error;
      const variable = (issue: { loc: (string | number)[] }) => (issue.loc.includes('email') ? 'ADMIN_EMAIL' : 'ADMIN_PASSWORD');
      throw new Error(error.issues.map((i) => `${variable(i)}: ${i.msg}`).join('; '));
    }
    log.info(
      created
        ? `Created the admin ${config.admin.email} from ADMIN_EMAIL/ADMIN_PASSWORD`
        : `Admin bootstrap: a user with ${config.admin.email} exists already; left unchanged`,
    );
  }

  let closing = false;
  // What is kept only for a while goes in small batches (maintenance/purger.ts); 0 turns it off.
  const purger = createPurger({ store, policy: { auditRetentionDays: config.maintenance.auditRetentionDays }, log });
  const stopPurge = config.maintenance.purgeIntervalMinutes > 0 ? purger.start(config.maintenance.purgeIntervalMinutes * 60_000) : () => {};

  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down: draining in-flight requests');
    health.markShuttingDown();
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      exit(1);
    }, config.http.shutdownDelayMs + SHUTDOWN_GRACE_MS);
    force.unref();
    try {
      // SHUTDOWN_DELAY_MS: keep serving while load balancers polling /health/ready see 503 and
      // take this instance out of rotation; only then stop accepting connections.
      if (config.http.shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, config.http.shutdownDelayMs));
      stopPurge();
      await app.close();
      await store.close();
      log.info('shut down cleanly');
      exit(0);
    } catch (error) {
      log.error({ err: error }, 'error during shutdown');
      exit(1);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port; // PORT=0: the one picked
  for (const line of await startupSummary(config, port, store, keys.signing?.kid ?? null)) log.info(line);
}

/**
 * What a newcomer asks first: where the docs are, which database, where mail goes, whether
 * anyone can administer, where the signing key lives. Places only: never a password or a key.
 */
async function startupSummary(config: Config, port: number, store: Store, kid: string | null): Promise<string[]> {
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const admins = await store.countUsers({ role: 'admin' });
  // A production install (the image) has dist/ but neither the sources nor npm's build step.
  const adminCommand = config.nodeEnv === 'production' ? 'node dist/src/cli/admin.js' : 'npm run admin --';
  return [
    `Swagger UI: http://${host.includes(':') ? `[${host}]` : host}:${port}/docs`,
    `Database: ${describeDatabase(config.database)}`,
    `Mail: ${
      config.mail.smtpUrl === null
        ? 'development outbox at /admin/outbox (no SMTP_URL: mails are kept and logged, not sent)'
        : `SMTP server ${serverOf(config.mail.smtpUrl).hosts}`
    }`,
    admins > 0
      ? `Admins: ${admins}`
      : `No admin yet: create one with \`${adminCommand} create --email you@example.com --username you\` ` +
        '(it asks for the password), or start once with ADMIN_EMAIL and ADMIN_PASSWORD set',
    `Token signing: ${describeKeyLocation(config)}${kid === null ? '' : `; kid ${kid} signs`}`,
  ];
}

function describeDatabase(database: Config['database']): string {
  switch (database.kind) {
    case 'sqlite':
      return database.file === ':memory:' ? 'SQLite in memory (gone at exit)' : `SQLite file ${database.file}`;
    case 'postgres': {
      const { hosts, path } = serverOf(database.url);
      return `PostgreSQL at ${hosts}${path === '' ? '' : `, database ${path}`}`;
    }
    case 'mongodb':
      return `MongoDB at ${serverOf(database.url).hosts}, database ${database.dbName}`;
  }
}

/** A host name or address with an optional port, as one entry of a URL's host list. */
const HOST_RE = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._%-]+)(?::\d{1,5})?$/;

/**
 * The hosts and path of `scheme://[user:password@]host[:port][,host…][/path][?query]`, never its
 * credentials or query (a password may sit in either). Credentials end at the last "@" before
 * the query; if an "@" comes later (a raw "?" or "#" inside a password), or the host list looks
 * odd, the hosts are not shown at all rather than risk showing part of a password.
 */
function serverOf(url: string): { hosts: string; path: string } {
  const rest = url.slice(url.indexOf('://') + 3);
  const beforeQuery = rest.split(/[?#]/)[0] ?? '';
  const afterCredentials = beforeQuery.slice(beforeQuery.lastIndexOf('@') + 1);
  const [hosts = '', ...path] = afterCredentials.split('/');
  const safe = !rest.slice(beforeQuery.length).includes('@');
  const shown = safe && hosts !== '' && hosts.split(',').every((h) => HOST_RE.test(h)) ? hosts : '(host not shown)';
  const name = path.join('/');
  return { hosts: shown, path: safe && /^[\w.-]+$/.test(name) ? name : '' };
}

function installed(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
