import { randomBytes } from 'node:crypto';

/**
 * Ids in MongoDB ObjectId form: 4 bytes of seconds since the epoch, then 8 random bytes, as 24
 * lowercase hex characters. Users imported from the old service keep their ObjectIds, and new
 * ones sort roughly by creation time, which keyset paging relies on.
 */
export function newId(now: Date = new Date()): string {
  const buf = Buffer.alloc(12);
  buf.writeUInt32BE(Math.floor(now.getTime() / 1000) >>> 0, 0);
  randomBytes(8).copy(buf, 4);
  return buf.toString('hex');
}

const ID_RE = /^[0-9a-fA-F]{24}$/;

/** Accepts any-case hex (as ObjectId did) and returns the canonical lowercase id, or null. */
export function parseId(raw: string): string | null {
  return ID_RE.test(raw) ? raw.toLowerCase() : null;
}
