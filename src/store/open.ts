/** DATABASE_URL -> Store: picks the implementation and applies its migrations / indexes. */
import type { DatabaseConfig } from '../config.js';
import { openMongoStore } from './mongo/open-mongo.js';
import { openPostgresStore } from './postgres/open-postgres.js';
import { openSqliteStore } from './sqlite/open-sqlite.js';
import type { Store } from './store.js';

export async function openStore(database: DatabaseConfig): Promise<Store> {
  const store = openUnmigrated(database);
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}

function openUnmigrated(database: DatabaseConfig): Store {
  switch (database.kind) {
    case 'sqlite':
      return openSqliteStore(database.file);
    case 'postgres':
      return openPostgresStore(database);
    case 'mongodb':
      return openMongoStore(database);
  }
}
