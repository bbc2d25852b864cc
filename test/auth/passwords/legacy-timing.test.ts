/**
 * Security review, item 11: while any account still has the old service's bcrypt hash, a wrong
 * password costs the same work whether the account is unknown, imported (bcrypt) or migrated
 * (argon2id): each failed check runs one argon2id and one bcrypt-12 verification on the workers.
 * (The times themselves are measured in bench/, not here: tests assert no timings.)
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { hashSync } from '@node-rs/bcrypt';
import { createLegacyHashWatch } from '../../../src/auth/passwords/legacy-hashes.js';
import { createPasswordHasher } from '../../../src/auth/passwords/passwords.js';
import { type CpuPool, createCpuPool, type Lane } from '../../../src/workers/cpu-pool.js';

/** A real pool whose lanes note the name of every task they run. */
function countingPool(pool: CpuPool, ran: string[]): CpuPool {
  return {
    ...pool,
    lane(options) {
      const lane = pool.lane(options);
      const counted: Lane = {
        get pending() {
          return lane.pending;
        },
        run(name, input, runOptions) {
          ran.push(name);
          return lane.run(name, input, runOptions);
        },
      };
      return counted;
    },
    close: () => pool.close(),
  };
}

describe('failed password checks while legacy hashes remain', () => {
  const pool = createCpuPool({ maxThreads: 1 });
  after(() => pool.close());
  const legacy = hashSync('the legacy password', 12);

  async function tasksOf(legacyRemain: boolean, check: (hasher: ReturnType<typeof createPasswordHasher>) => Promise<unknown>) {
    const ran: string[] = [];
    const hasher = createPasswordHasher({ pool: countingPool(pool, ran), legacyHashesRemain: async () => legacyRemain });
    const migrated = await hasher.hash('the migrated password');
    await check(hasher); // warm: the dummies are made once
    ran.length = 0;
    await hasher.verify(migrated, 'wrong');
    const migratedTasks = [...ran];
    ran.length = 0;
    await check(hasher);
    return { migratedTasks, tasks: [...ran] };
  }

  it('spend one argon2id and one bcrypt check for unknown, legacy and migrated accounts alike', async () => {
    const unknown = await tasksOf(true, (hasher) => hasher.verifyDummy('wrong'));
    const imported = await tasksOf(true, (hasher) => hasher.verify(legacy, 'wrong'));
    assert.deepEqual(unknown.tasks.sort(), ['verifyArgon2', 'verifyBcrypt']);
    assert.deepEqual(imported.tasks.sort(), ['verifyArgon2', 'verifyBcrypt']);
    assert.deepEqual(unknown.migratedTasks.sort(), ['verifyArgon2', 'verifyBcrypt']);
  });

  it('spend argon2id alone once no legacy hash remains, and never pad a right password', async () => {
    const unknown = await tasksOf(false, (hasher) => hasher.verifyDummy('wrong'));
    assert.deepEqual(unknown.tasks, ['verifyArgon2']);
    assert.deepEqual(unknown.migratedTasks, ['verifyArgon2']);
    const right = await tasksOf(true, (hasher) => hasher.verify(legacy, 'the legacy password'));
    assert.deepEqual(right.tasks, ['verifyBcrypt']);
  });
});

describe('createLegacyHashWatch', () => {
  it('asks the store once, then at most once a minute, never making a caller wait after the first answer', async () => {
    let answer = true;
    let asked = 0;
    let clock = 0;
    const watch = createLegacyHashWatch(
      {
        async hasLegacyPasswordHashes() {
          asked += 1;
          return answer;
        },
      },
      () => clock,
    );
    assert.equal(await watch.remain(), true);
    answer = false;
    assert.equal(await watch.remain(), true, 'within the minute: the last answer');
    assert.equal(asked, 1);
    clock += 61_000;
    assert.equal(await watch.remain(), true, 'stale: answered at once, refreshed behind');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(asked, 2);
    assert.equal(await watch.remain(), false);
  });
});
