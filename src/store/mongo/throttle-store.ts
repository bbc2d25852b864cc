/**
 * Counters of failed attempts (see ThrottleStore in store.ts) over MongoDB: collection
 * `login_throttles`, one document a key. The claim is one findOneAndUpdate with an upsert whose
 * filter matches only an unlocked document: counting and the lock check are a single atomic write.
 * A locked document does not match, so the upsert tries to insert its `_id` again and fails with
 * a duplicate key: that failure is the refusal (checked, since two first claims of a new key can
 * also collide, and then the loser simply tries again).
 */
import { type Collection, MongoServerError } from 'mongodb';
import type { ThrottleStore } from '../store.js';
import type { MongoRunner } from './auth-stores.js';

export interface ThrottleDocument {
  _id: string;
  subject: string;
  failures: number;
  lock_seconds: number;
  locked_until_ms: number;
  updated_at_ms: number;
}

const CLAIM_ATTEMPTS = 5;

/** Idempotent, at start-up: a password reset deletes by subject; the purge walks updated_at_ms. */
export async function migrateThrottles(throttles: Collection<ThrottleDocument>): Promise<void> {
  await throttles.createIndexes([
    { key: { subject: 1 }, name: 'subject_1' },
    { key: { updated_at_ms: 1 }, name: 'updated_at_ms_1' },
  ]);
}

export function createMongoThrottleStore(throttles: Collection<ThrottleDocument>, run: MongoRunner): ThrottleStore {
  return {
    claim(key, subject, policy, now) {
      return run(async () => {
        const nowMs = now.getTime();
        const locks = { $gte: ['$failures', policy.threshold] };
        const update = [
          { $set: { subject, failures: { $add: [{ $ifNull: ['$failures', 0] }, 1] } } },
          {
            $set: {
              lock_seconds: {
                $cond: [
                  locks,
                  { $min: [policy.maxLockSeconds, { $cond: [{ $gt: [{ $ifNull: ['$lock_seconds', 0] }, 0] }, { $multiply: ['$lock_seconds', 2] }, 1] }] },
                  0,
                ],
              },
            },
          },
          {
            $set: {
              locked_until_ms: { $cond: [locks, { $add: [nowMs, { $multiply: ['$lock_seconds', 1000] }] }, 0] },
              updated_at_ms: nowMs,
            },
          },
        ];
        for (let attempt = 0; ; attempt++) {
          try {
            const doc = await throttles.findOneAndUpdate({ _id: key, locked_until_ms: { $lte: nowMs } }, update, {
              upsert: true,
              returnDocument: 'after',
              projection: { failures: 1 },
            });
            return { allowed: true as const, failures: Number(doc?.failures ?? 1) };
          } catch (error) {
            if (!(error instanceof MongoServerError && error.code === 11000)) throw error;
            const current = await throttles.findOne({ _id: key }, { projection: { locked_until_ms: 1 } });
            const left = Number(current?.locked_until_ms ?? 0) - nowMs;
            if (left > 0 || attempt >= CLAIM_ATTEMPTS) {
              return { allowed: false as const, retryAfterSeconds: Math.max(1, Math.ceil(left / 1000)) };
            }
          }
        }
      });
    },

    refund(key, policy) {
      return run(async () => {
        const below = { $lt: [{ $subtract: ['$failures', 1] }, policy.threshold] };
        await throttles.updateOne({ _id: key, failures: { $gt: 0 } }, [
          {
            $set: {
              failures: { $subtract: ['$failures', 1] },
              lock_seconds: { $cond: [below, 0, { $floor: { $divide: ['$lock_seconds', 2] } }] },
              locked_until_ms: 0,
            },
          },
        ]);
      });
    },

    clear(keys) {
      if (keys.length === 0) return Promise.resolve();
      return run(async () => {
        await throttles.deleteMany({ _id: { $in: keys } });
      });
    },

    clearSubject(subject) {
      return run(async () => {
        await throttles.deleteMany({ subject });
      });
    },
  };
}
