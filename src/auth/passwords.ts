/**
 * Password hashing: argon2id (OWASP's m=19 MiB, t=2, p=1) for every new hash, and verification
 * of the old service's bcrypt hashes until each user's next successful login re-hashes them.
 * Hashing never runs on the event loop (the old service's bcrypt stalled every request during a
 * login): it runs on the process's low-priority worker threads (workers/cpu-pool.ts, tasks in
 * password-hashing.ts), so it also leaves the loop its CPU.
 */
import { AppError } from '../errors.js';
import { type CpuPool, cpuPool } from '../workers/cpu-pool.js';

/** Algorithm.Argon2id of @node-rs/argon2 (a const enum, which isolated modules cannot import). */
const ARGON2ID = 2;
const ARGON2_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;
/** A hash made with exactly these parameters needs no upgrade. */
const CURRENT_PREFIX = '$argon2id$v=19$m=19456,t=2,p=1$';
/**
 * The bcrypt forms @node-rs/bcrypt verifies. $2x$ (crypt_blowfish's variant that mishandled 8-bit
 * characters) is checked as $2a$: identical for ASCII passwords; a non-ASCII one simply does not
 * match (its owner resets it). $2$ cannot be verified, and the import refuses it.
 */
const BCRYPT_RE = /^\$2[abxy]\$\d{2}\$[./A-Za-z0-9]{53}$/;

export interface PasswordCheck {
  ok: boolean;
  /** The stored hash is bcrypt or older argon2 parameters: store a fresh hash now. */
  needsRehash: boolean;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(storedHash: string, password: string): Promise<PasswordCheck>;
  /** Spends the time of a real verification and fails: same timing for unknown accounts. */
  verifyDummy(password: string): Promise<false>;
}

/**
 * Hashes running or waiting at once (~25 ms of a core each: a full line clears in about a second
 * on two cores). One more is refused with 429 BUSY and Retry-After: a burst beyond what the cores
 * can hash soon is told to come back rather than left to wait past its client's patience.
 */
export const HASH_QUEUE_LIMIT = 64;
const HASH_RETRY_AFTER_SECONDS = 1;

/** A refusal (BUSY) reaches the caller; a hash the library cannot read is a failed verification. */
function failedUnlessRefused(error: unknown): false {
  if (error instanceof AppError) throw error;
  return false;
}

export function isLegacyBcrypt(storedHash: string): boolean {
  return BCRYPT_RE.test(storedHash);
}

/** `pool`: the process's shared one unless given (tests). */
export function createPasswordHasher(options: { pool?: CpuPool } = {}): PasswordHasher {
  let dummyHash: Promise<string> | undefined;

  const lane = (options.pool ?? cpuPool()).lane({
    priority: 'interactive',
    maxPending: HASH_QUEUE_LIMIT,
    retryAfterSeconds: HASH_RETRY_AFTER_SECONDS,
  });
  const argon2Hash = (password: string) => lane.run('hashPassword', { password, options: ARGON2_OPTIONS });

  async function verify(storedHash: string, password: string): Promise<PasswordCheck> {
    if (storedHash.startsWith('$argon2')) {
      const ok = await lane.run('verifyArgon2', { hash: storedHash, password }).catch(failedUnlessRefused);
      return { ok, needsRehash: ok && !storedHash.startsWith(CURRENT_PREFIX) };
    }
    if (isLegacyBcrypt(storedHash)) {
      // bcrypt reads only the first 72 bytes: the old service's users keep logging in with the
      // password they typed, and the re-hash below makes every byte count from then on.
      const ok = await lane.run('verifyBcrypt', { hash: storedHash, password }).catch(failedUnlessRefused);
      return { ok, needsRehash: ok };
    }
    return { ok: false, needsRehash: false };
  }

  return {
    hash: argon2Hash,
    verify,
    async verifyDummy(password) {
      dummyHash ??= argon2Hash('dummy password for unknown accounts');
      await verify(await dummyHash, password);
      return false;
    },
  };
}
