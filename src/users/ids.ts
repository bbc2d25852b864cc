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

let lastMs = 0;
let sequence = 0;

/**
 * An id of the same form whose order is the order of creation, to the millisecond and, within one
 * process, exactly: 4 bytes of seconds (as newId), 2 bytes of milliseconds, a 2-byte sequence, 4
 * random bytes. For the audit log, listed newest first by id: two events of one second (disabled,
 * then enabled again) must not swap places.
 */
export function newSequentialId(now: Date = new Date()): string {
  let ms = now.getTime();
  if (ms <= lastMs) {
    ms = lastMs;
    sequence += 1;
    if (sequence > 0xffff) {
      ms += 1;
      sequence = 0;
    }
  } else {
    sequence = 0;
  }
  lastMs = ms;
  const buf = Buffer.alloc(12);
  buf.writeUInt32BE(Math.floor(ms / 1000) >>> 0, 0);
  buf.writeUInt16BE(ms % 1000, 4);
  buf.writeUInt16BE(sequence, 6);
  randomBytes(4).copy(buf, 8);
  return buf.toString('hex');
}

/**
 * The smallest id of either form made at `at`: every id created before it sorts below it (its
 * seconds are smaller). Ids order by time, so "before `at`" is a range of the primary key.
 */
export function firstIdAt(at: Date): string {
  const buf = Buffer.alloc(12);
  buf.writeUInt32BE(Math.floor(at.getTime() / 1000) >>> 0, 0);
  return buf.toString('hex');
}

const ID_RE = /^[0-9a-fA-F]{24}$/;

/** Accepts any-case hex (as ObjectId did) and returns the canonical lowercase id, or null. */
export function parseId(raw: string): string | null {
  return ID_RE.test(raw) ? raw.toLowerCase() : null;
}
