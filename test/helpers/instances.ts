/**
 * Several instances of the real service (child processes, src/main.ts) on one fresh PostgreSQL
 * database, as behind a load balancer: the same DATABASE_URL and signing secret, each with its own
 * port and DATA_DIR. For the tests of running many instances; needs TEST_POSTGRES_URL.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createTempPostgresDatabase } from './postgres.js';
import { type ServerProcess, startServer, waitHealthy } from './server-process.js';

export interface InstanceGroup {
  instances: ServerProcess[];
  databaseUrl: string;
  /** SIGTERM to every instance (SIGKILL after 15 s), then drops the database and the data folders. */
  stop(): Promise<void>;
}

/** Starts `count` instances at once (they race to migrate the empty database, as a scaled deploy does). */
export async function startInstances(count: number, env: Record<string, string> = {}): Promise<InstanceGroup> {
  const adminUrl = process.env.TEST_POSTGRES_URL;
  if (!adminUrl) throw new Error('startInstances needs TEST_POSTGRES_URL');
  const database = await createTempPostgresDatabase(adminUrl);
  const shared = { DATABASE_URL: database.url, JWT_SECRET: randomBytes(48).toString('base64'), ...env };
  const instances = await Promise.all(Array.from({ length: count }, () => startServer(shared)));
  const stop = async () => {
    await Promise.all(instances.map(stopInstance));
    await database.drop();
  };
  try {
    await Promise.all(instances.map(waitHealthy));
  } catch (error) {
    await stop();
    throw error;
  }
  return { instances, databaseUrl: database.url, stop };
}

async function stopInstance(server: ServerProcess): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill('SIGTERM');
    const killer = setTimeout(() => server.child.kill('SIGKILL'), 15_000);
    await server.exited;
    clearTimeout(killer);
  }
  rmSync(server.dataDir, { recursive: true, force: true });
}
