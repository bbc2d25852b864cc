/**
 * DATABASE_URL -> Store: picks the implementation and applies its migrations / indexes. Each
 * driver is imported only when chosen: a SQLite service never loads `pg` or `mongodb`, which
 * keeps start-up fast and memory small.
 */
import type { DatabaseConfig } from '../config.js';
import type { Store } from './store.js';

export async function openStore(database: DatabaseConfig): Promise<Store> {
  const store = await openUnmigrated(database);
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}

async function openUnmigrated(database: DatabaseConfig): Promise<Store> {
  switch (database.kind) {
    case 'sqlite':
      return (await import('./sqlite/open-sqlite.js')).openSqliteStore(database.file);
    case 'postgres':
      return (await import('./postgres/open-postgres.js')).openPostgresStore(database);
    case 'mongodb':
      return (await import('./mongo/open-mongo.js')).openMongoStore(database);
  }
}
