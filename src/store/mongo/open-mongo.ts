// PLACEHOLDER: replaced by the MongoDB store (issue 3).
import type { Store } from '../store.js';
export function openMongoStore(_config: { url: string; dbName: string }): Store {
  throw new Error('MongoDB is not supported yet');
}
