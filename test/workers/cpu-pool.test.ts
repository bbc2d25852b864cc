import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { AppError } from '../../src/errors.js';
import { createCpuPool, WORKER_NICE } from '../../src/workers/cpu-pool.js';

const OPTIONS = { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 };
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The nice value of each thread of this process (Linux: field 19 of /proc/self/task/<tid>/stat). */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

describe('the CPU worker pool', () => {
  const pools: ReturnType<typeof createCpuPool>[] = [];
  const pool = (options: Parameters<typeof createCpuPool>[0] = {}) => {
    const made = createCpuPool(options);
    pools.push(made);
    return made;
  };
  after(() => Promise.all(pools.map((p) => p.close())));

  it('hashes and verifies on its workers, one per job up to its size', async () => {
    const lane = pool({ maxThreads: 2 }).lane({ priority: 'interactive', maxPending: 8, retryAfterSeconds: 1 });
    const hashes = await Promise.all(['a-password', 'b-password'].map((password) => lane.run('hashPassword', { password, options: OPTIONS })));
    assert.ok(hashes.every((h) => h.startsWith('$argon2id$')));
    assert.equal(await lane.run('verifyArgon2', { password: 'a-password', hash: hashes[0] as string }), true);
    assert.equal(await lane.run('verifyArgon2', { password: 'wrong', hash: hashes[0] as string }), false);
  });

  it(`runs its workers at the lowest priority (nice ${WORKER_NICE}), the event loop at its own`, { skip: existsSync('/proc/self/task') ? false : 'needs Linux /proc' }, async () => {
    const before = threadNices().filter((n) => n === WORKER_NICE).length;
    const p = pool({ maxThreads: 2 });
    const lane = p.lane({ priority: 'interactive', maxPending: 8, retryAfterSeconds: 1 });
    await Promise.all(['x-password', 'y-password'].map((password) => lane.run('hashPassword', { password, options: OPTIONS })));
    assert.equal(p.threads, 2);
    // piscina nices its workers through an optional native package: if that went missing, this fails.
    assert.equal(threadNices().filter((n) => n === WORKER_NICE).length - before, 2, 'both workers at nice 19');
    assert.equal(threadNices()[0], 0, 'the main thread (listed first) is not niced');
  });

  it('lets idle workers exit, and starts them again for the next job', async () => {
    const p = pool({ maxThreads: 2, idleTimeoutMs: 50 });
    const lane = p.lane({ priority: 'interactive', maxPending: 8, retryAfterSeconds: 1 });
    const hash = await lane.run('hashPassword', { password: 'idle-password', options: OPTIONS });
    assert.equal(p.threads, 1);
    const deadline = Date.now() + 5000;
    while (p.threads > 0 && Date.now() < deadline) await wait(20);
    assert.equal(p.threads, 0, 'the idle worker exited');
    assert.equal(await lane.run('verifyArgon2', { password: 'idle-password', hash }), true);
    assert.equal(p.threads, 1);
  });

  it('refuses work past a full lane with 429 BUSY and Retry-After, while other lanes still run', async () => {
    const p = pool({ maxThreads: 1 });
    const narrow = p.lane({ priority: 'bulk', maxPending: 2, retryAfterSeconds: 7 });
    const other = p.lane({ priority: 'interactive', maxPending: 2, retryAfterSeconds: 1 });
    const admitted = [1, 2].map((i) => narrow.run('hashPassword', { password: `pw-${i}`, options: OPTIONS }));
    await assert.rejects(narrow.run('hashPassword', { password: 'pw-3', options: OPTIONS }), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.statusCode, 429);
      assert.equal(error.code, 'BUSY');
      assert.equal(error.headers['Retry-After'], '7');
      return true;
    });
    assert.match(await other.run('hashPassword', { password: 'pw-other', options: OPTIONS }), /^\$argon2id\$/);
    await Promise.all(admitted);
    assert.equal(narrow.pending, 0);
    assert.match(await narrow.run('hashPassword', { password: 'pw-4', options: OPTIONS }), /^\$argon2id\$/, 'room again once done');
  });

  it('hands the next free worker to waiting interactive work before waiting bulk work', async () => {
    const p = pool({ maxThreads: 1 });
    const bulk = p.lane({ priority: 'bulk', maxPending: 8, retryAfterSeconds: 1 });
    const interactive = p.lane({ priority: 'interactive', maxPending: 8, retryAfterSeconds: 1 });
    const finished: string[] = [];
    const job = (lane: typeof bulk, name: string) =>
      lane.run('hashPassword', { password: name, options: OPTIONS }).then(() => finished.push(name));
    await job(bulk, 'warm-up'); // a worker up and idle
    finished.length = 0;
    // The first bulk job takes the one worker; the rest wait, the interactive one arriving last.
    await Promise.all([job(bulk, 'bulk-1'), job(bulk, 'bulk-2'), job(bulk, 'bulk-3'), job(interactive, 'login')]);
    assert.deepEqual(finished, ['bulk-1', 'login', 'bulk-2', 'bulk-3']);
  });
});
