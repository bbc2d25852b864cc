import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHashPool } from '../../src/auth/hash-pool.js';

const OPTIONS = { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 };
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('password hashing worker pool', () => {
  it('hashes and verifies on its workers, one per job up to its size', async () => {
    const pool = createHashPool(2);
    const hashes = await Promise.all(['a-password', 'b-password'].map((password) => pool.run<string>({ op: 'hash', password, options: OPTIONS })));
    assert.equal(pool.size, 2);
    assert.ok(hashes.every((h) => h.startsWith('$argon2id$')));
    assert.equal(await pool.run<boolean>({ op: 'argon2-verify', password: 'a-password', hash: hashes[0] as string }), true);
    assert.equal(await pool.run<boolean>({ op: 'argon2-verify', password: 'wrong', hash: hashes[0] as string }), false);
  });

  it('lets idle workers exit, and starts them again for the next job', async () => {
    const pool = createHashPool(2, { idleMs: 50 });
    const hash = await pool.run<string>({ op: 'hash', password: 'idle-password', options: OPTIONS });
    assert.equal(pool.size, 1);
    const deadline = Date.now() + 5000;
    while (pool.size > 0 && Date.now() < deadline) await wait(20);
    assert.equal(pool.size, 0, 'the idle worker exited');
    assert.equal(await pool.run<boolean>({ op: 'argon2-verify', password: 'idle-password', hash }), true);
    assert.equal(pool.size, 1);
  });

  it('never hands a job to a worker that is exiting: jobs arriving around the idle timeout all succeed', async () => {
    const pool = createHashPool(1, { idleMs: 5 });
    const hash = await pool.run<string>({ op: 'hash', password: 'race-password', options: OPTIONS });
    for (let i = 0; i < 8; i++) {
      await wait(i % 2 === 0 ? 5 : 6);
      assert.equal(await pool.run<boolean>({ op: 'argon2-verify', password: 'race-password', hash }), true, `job ${i}`);
    }
  });
});
