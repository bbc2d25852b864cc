/** Driver errors -> the Store's Conflict / StoreUnavailable; anything else passes unchanged. */
import { MongoError, MongoNetworkError, MongoOperationTimeoutError, MongoServerSelectionError } from 'mongodb';
import { Conflict, StoreUnavailable } from '../store.js';

const DUPLICATE_KEY = new Set([11000, 11001, 12582]);

/**
 * Server answers that mean "not now" rather than "wrong request": a primary stepping down or
 * shutting down, a network failure between servers, a time limit hit. The caller answers 503
 * and the client retries, exactly as for an unreachable server.
 */
const UNAVAILABLE_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  50, // MaxTimeMSExpired
  89, // NetworkTimeout
  133, // FailedToSatisfyReadPreference (no primary right now)
  91, // ShutdownInProgress
  189, // PrimarySteppedDown
  262, // ExceededTimeLimit
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

/** Socket and DNS failures that can surface unwrapped (a mongodb+srv lookup, for one). */
const NETWORK_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH']);

export function translateMongoError(error: unknown): unknown {
  if (!(error instanceof MongoError)) {
    const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
    if (code === undefined || !NETWORK_CODES.has(code)) return error;
    return new StoreUnavailable('database unavailable', { cause: error });
  }
  if (typeof error.code === 'number' && DUPLICATE_KEY.has(error.code)) return new Conflict(conflictField(error));
  if (
    error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError ||
    error instanceof MongoOperationTimeoutError ||
    (typeof error.code === 'number' && UNAVAILABLE_CODES.has(error.code))
  ) {
    return new StoreUnavailable('database unavailable', { cause: error });
  }
  return error;
}

/** Which unique index was hit: from keyPattern when the server sends it, else the index name. */
export function conflictField(error: { keyPattern?: unknown; message?: string }): Conflict['field'] {
  const keys =
    error.keyPattern !== null && typeof error.keyPattern === 'object' ? Object.keys(error.keyPattern) : [];
  const index = /index: (\S+)/.exec(error.message ?? '')?.[1];
  const names = keys.length > 0 ? keys : index !== undefined ? [index] : [];
  for (const name of names) {
    if (name.startsWith('email')) return 'email';
    if (name.startsWith('username')) return 'username';
    if (name.startsWith('_id')) return 'id';
  }
  return 'unknown';
}
