/**
 * Start-up work on `users`, idempotent like the old service's own index creation: backfill the
 * new email_lower and username_lower fields on documents that lack them, then make sure every
 * index exists.
 */
import { type AnyBulkWriteOperation, type Collection, MongoServerError } from 'mongodb';
import type { UserDocument } from './user-document.js';

const BACKFILL_BATCH = 1_000;

export async function migrateUsers(users: Collection<UserDocument>): Promise<void> {
  await backfillLower(users, 'email', 'email_lower');
  await backfillLower(users, 'username', 'username_lower');
  // The old service's two unique indexes, spelled as it created them (same key, same name), so
  // createIndexes finds them already there on its database and changes nothing.
  await users.createIndexes([
    { key: { email: 1 }, name: 'email_1', unique: true },
    { key: { username: 1 }, name: 'username_1', unique: true },
  ]);
  try {
    await users.createIndex(
      { email_lower: 1 },
      {
        name: 'email_lower_1',
        unique: true,
        // Documents the old service may still be writing (no email_lower) stay out of the index:
        // without this, its second new user would collide with the first on a missing key.
        partialFilterExpression: { email_lower: { $exists: true } },
      },
    );
  } catch (error) {
    if (error instanceof MongoServerError && error.code === 11000) throw await caseDuplicatesError(users, 'email', error);
    throw error;
  }
  try {
    await users.createIndex(
      { username_lower: 1 },
      { name: 'username_lower_1', unique: true, partialFilterExpression: { username_lower: { $exists: true } } },
    );
  } catch (error) {
    if (error instanceof MongoServerError && error.code === 11000) throw await caseDuplicatesError(users, 'username', error);
    throw error;
  }
  // Keyset pages filtered by role walk this index in _id order; countUsers({role}) uses it too.
  await users.createIndex({ role: 1, _id: 1 }, { name: 'role_1__id_1' });
}

/**
 * Lower-cases in JavaScript rather than with the server's $toLower, which is defined for ASCII
 * only: the key must equal what the store computes for every later lookup.
 */
async function backfillLower(
  users: Collection<UserDocument>,
  field: 'email' | 'username',
  key: 'email_lower' | 'username_lower',
): Promise<void> {
  const cursor = users.find(
    { [key]: { $exists: false }, [field]: { $type: 'string' } },
    { projection: { _id: 1, [field]: 1 }, batchSize: BACKFILL_BATCH },
  );
  let batch: AnyBulkWriteOperation<UserDocument>[] = [];
  for await (const doc of cursor) {
    batch.push({
      updateOne: {
        // Only while still missing: a concurrent writer's value is newer than ours.
        filter: { _id: doc._id, [key]: { $exists: false } },
        update: { $set: { [key]: (doc[field] as string).toLowerCase() } },
      },
    });
    if (batch.length === BACKFILL_BATCH) {
      await users.bulkWrite(batch, { ordered: false });
      batch = [];
    }
  }
  if (batch.length > 0) await users.bulkWrite(batch, { ordered: false });
}

/**
 * The old service compared emails and usernames case-sensitively, so its database can hold
 * "Ann@x.org" and "ann@x.org" as two users. Which one is real is a human decision: name them and stop.
 */
async function caseDuplicatesError(users: Collection<UserDocument>, field: 'email' | 'username', cause: unknown): Promise<Error> {
  const key = `${field}_lower`;
  const groups = await users
    .aggregate<{ _id: string; ids: unknown[] }>([
      { $match: { [key]: { $exists: true } } },
      { $group: { _id: `$${key}`, ids: { $push: '$_id' }, n: { $sum: 1 } } },
      { $match: { n: { $gt: 1 } } },
      { $limit: 20 },
    ])
    .toArray();
  const list = groups.map((g) => `${g._id} (ids ${g.ids.map(String).join(', ')})`).join('; ');
  return new Error(
    `users: some ${field}s differ only in letter case, so the case-insensitive unique index cannot be built. ` +
      `Merge or rename these users, then restart: ${list}`,
    { cause },
  );
}
