/**
 * DATABASE_URL -> Store: picks the implementation and applies its migrations / indexes. Each
 * driver is imported only when chosen: a SQLite service never loads `pg` or `mongodb`, which
 * keeps start-up fast and memory small.
 */
import type { DatabaseConfig } from '../config.js';
import type { Store } from './store.js';

export interface OpenOptions {
  /** Told of trouble the store works around (the PostgreSQL user cache going off, and why). */
  warn?: (message: string) => void;
}

export async function openStore(database: DatabaseConfig, options: OpenOptions = {}): Promise<Store> {
  const store = await openUnmigrated(database, options);
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}

async function openUnmigrated(database: DatabaseConfig, options: OpenOptions): Promise<Store> {
  switch (database.kind) {
    case 'sqlite':
      return (await import('./sqlite/open-sqlite.js')).openSqliteStore(database.file);
    case 'postgres':
      return (await import('./postgres/open-postgres.js')).openPostgresStore({
        ...database,
        onUserCacheDown: (reason) => options.warn?.(`user cache off until the change feed works again (every request reads the database): ${reason}`),
      });
    case 'mongodb':
      return (await import('./mongo/open-mongo.js')).openMongoStore(database);
  }
}
