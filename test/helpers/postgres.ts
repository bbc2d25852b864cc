/**
 * A fresh, empty PostgreSQL database per test run on a server the tests did not make, so
 * suites never see each other's rows and nothing is left behind on the server.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface TempPostgresDatabase {
  /** adminUrl with its database swapped for the new one (user, password, sslmode kept). */
  url: string;
  /** Drops the database, ending any session still connected to it. */
  drop(): Promise<void>;
}

async function withAdmin<T>(adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  // A server going away mid-call must reject this call, not crash the test process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** adminUrl: a URL of a role allowed to CREATE DATABASE (the owner or a superuser). */
export async function createTempPostgresDatabase(adminUrl: string): Promise<TempPostgresDatabase> {
  const name = `test_${randomBytes(8).toString('hex')}`;
  await withAdmin(adminUrl, (client) => client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    async drop() {
      if (dropped) return;
      // WITH (FORCE) (PostgreSQL 13+) ends sessions a test forgot to close.
      await withAdmin(adminUrl, (client) =>
        client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`),
      );
      dropped = true;
    },
  };
}
