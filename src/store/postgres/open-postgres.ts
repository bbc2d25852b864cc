// PLACEHOLDER: replaced by the PostgreSQL store (issue 3).
import type { Store } from '../store.js';
export function openPostgresStore(_config: { url: string; poolSize: number; statementTimeoutMs: number }): Store {
  throw new Error('PostgreSQL is not supported yet');
}
