/**
 * Check-in limits per user and per session, never per IP: a lecture hall is one NAT address, and
 * its whole class scans within seconds. Token buckets in memory (per instance): a user may try a
 * few codes a minute, a session takes a class's burst and refuses a flood.
 */

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export interface BucketPolicy {
  capacity: number;
  refillPerSecond: number;
}

export interface Limiter {
  /** null when allowed (a token taken), else seconds to wait. */
  take(key: string, nowMs: number): number | null;
}

/** Buckets not touched for this long are forgotten (full again by then anyway). */
const IDLE_MS = 10 * 60_000;
const MAX_KEYS = 100_000;

export function createLimiter(policy: BucketPolicy): Limiter {
  const buckets = new Map<string, Bucket>();
  function sweep(nowMs: number) {
    for (const [key, bucket] of buckets) if (nowMs - bucket.updatedMs > IDLE_MS) buckets.delete(key);
  }
  return {
    take(key, nowMs) {
      if (buckets.size >= MAX_KEYS) sweep(nowMs);
      const bucket = buckets.get(key) ?? { tokens: policy.capacity, updatedMs: nowMs };
      const elapsed = Math.max(0, nowMs - bucket.updatedMs) / 1000;
      bucket.tokens = Math.min(policy.capacity, bucket.tokens + elapsed * policy.refillPerSecond);
      bucket.updatedMs = nowMs;
      buckets.set(key, bucket);
      if (bucket.tokens < 1) return Math.max(1, Math.ceil((1 - bucket.tokens) / policy.refillPerSecond));
      bucket.tokens -= 1;
      return null;
    },
  };
}

/** A student: 10 attempts at once, then one every 6 s (a wrong code, a retry, a second scan). */
export const PER_USER: BucketPolicy = { capacity: 10, refillPerSecond: 1 / 6 };
/** A session: a class of 1000 at once, then 200 a second. */
export const PER_SESSION: BucketPolicy = { capacity: 1000, refillPerSecond: 200 };
