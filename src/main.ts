/**
 * Process entry: config -> store -> app -> listen; SIGTERM/SIGINT drain in-flight requests,
 * close the database and exit.
 */
import { pino } from 'pino';
import { buildApp, REDACT_PATHS } from './app.js';
import { resolveKeySet } from './auth/keys.js';
import { ConfigError, loadConfig } from './config.js';
import { createBatchedDestination } from './logging/batched-destination.js';
import { openStore } from './store/open.js';

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
  const pretty = config.nodeEnv !== 'production' && process.stdout.isTTY === true;
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
  const store = await openStore(config.database);
  const { app, users, health } = await buildApp({ config, store, keys, logger: log });

  if (config.admin !== null) {
    const created = await users.ensureAdmin(config.admin);
    log.info(
      created
        ? `Created the admin ${config.admin.email} from ADMIN_EMAIL/ADMIN_PASSWORD`
        : `Admin bootstrap: a user with ${config.admin.email} exists already; left unchanged`,
    );
  }

  let closing = false;
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
  log.info(`Swagger UI: http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${config.port}/docs`);
}

main().catch((error: unknown) => {
  process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
