import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { freePort } from '../helpers/server-process.js';
import { describe, it } from 'node:test';
import { MongoClient } from 'mongodb';
import { openMongoStore } from '../../src/store/mongo/open-mongo.js';
import { StoreUnavailable } from '../../src/store/store.js';
import { newId } from '../../src/users/ids.js';
import { storeContract, withCleanup } from './contract.js';

const serverUrl = process.env.TEST_MONGODB_URL;

/** Drops with a client of its own: the store's client is already closed when cleanup runs. */
async function dropDatabase(url: string, dbName: string): Promise<void> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 10_000 });
  try {
    await client.db(dbName).dropDatabase();
  } finally {
    await client.close();
  }
}

if (serverUrl === undefined || serverUrl === '') {
  console.log('MongoDB: skipped (set TEST_MONGODB_URL)');
  describe('Store contract: MongoDB', () => {
    it('runs against a real server', { skip: 'MongoDB: skipped (set TEST_MONGODB_URL)' }, () => undefined);
  });
} else {
  storeContract('MongoDB', async () => {
    // A database per test: dropping it is the whole cleanup, and suites never share documents.
    const dbName = `test_auth_${randomBytes(8).toString('hex')}`;
    const store = openMongoStore({ url: serverUrl, dbName });
    try {
      await store.migrate();
    } catch (error) {
      await store.close();
      await dropDatabase(serverUrl, dbName);
      throw error;
    }
    return withCleanup(store, () => dropDatabase(serverUrl, dbName));
  });
}

/** A port nothing listens on: bound once by us, then released. */
describe('MongoDB store without a server', () => {
  it('rejects calls with StoreUnavailable within the server-selection bound set in the URL', async () => {
    const port = await freePort();
    // The URL's own option must win over the store's 5 s default, as operators tune it there.
    const store = openMongoStore({
      url: `mongodb://127.0.0.1:${port}/?serverSelectionTimeoutMS=300&directConnection=true`,
      dbName: 'none',
    });
    try {
      const started = Date.now();
      await assert.rejects(store.findUserById(newId()), StoreUnavailable);
      await assert.rejects(store.countUsers(), StoreUnavailable);
      await assert.rejects(store.ping(), StoreUnavailable);
      // Well under three default 5 s waits: only the URL's bound can explain it.
      assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms`);
    } finally {
      await store.close();
    }
  });

  it('answers null and false for ids that are not ObjectIds, without asking the server', async () => {
    const port = await freePort();
    const store = openMongoStore({ url: `mongodb://127.0.0.1:${port}/?serverSelectionTimeoutMS=300`, dbName: 'none' });
    try {
      for (const id of ['', 'abc', 'zzzzzzzzzzzzzzzzzzzzzzzz', `${newId()}0`, '{"$gt": ""}']) {
        assert.equal(await store.findUserById(id), null, id);
        assert.equal(await store.updateUser(id, { fullName: 'x' }), null, id);
        assert.equal(await store.deleteUser(id), false, id);
        assert.deepEqual(await store.listUsers({ limit: 10, after: id }), [], id);
      }
    } finally {
      await store.close();
    }
  });
});
