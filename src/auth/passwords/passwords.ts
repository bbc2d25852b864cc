/**
 * Password hashing: argon2id (OWASP's m=19 MiB, t=2, p=1) for every new hash, and verification
 * of the old service's bcrypt hashes until each user's next successful login re-hashes them.
 * Hashing never runs on the event loop (the old service's bcrypt stalled every request during a
 * login): it runs on the process's low-priority worker threads (workers/cpu-pool.ts, tasks in
 * password-hashing.ts), so it also leaves the loop its CPU.
 */
import { AppError } from '../../errors.js';
import { type CpuPool, cpuPool } from '../../workers/cpu-pool.js';

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
 * The cost of the old service's bcrypt hashes (passlib's default, the one it used): the dummy
 * bcrypt check must take as long as a real one.
 */
const LEGACY_BCRYPT_COST = 12;

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

/**
 * `pool`: the process's shared one unless given (tests). `legacyHashesRemain`: whether any account
 * still has a bcrypt hash of the old service (store.hasLegacyPasswordHashes, cached).
 *
 * Timing: a wrong password of an account imported from the old service costs a bcrypt-12 check
 * (~250 ms), of a migrated account an argon2id one (~20 ms), of an unknown account the argon2id
 * dummy. The difference would tell an attacker which emails exist and have not signed in since
 * the move. So while any legacy hash remains, every failed check also spends the other kind's
 * check (a dummy): unknown, legacy and migrated accounts all fail in argon2id + bcrypt time. A
 * successful check is not padded (success says the account exists anyway). Once every legacy
 * hash is gone (each is replaced at its owner's next sign-in), failures cost argon2id alone again.
 */
export function createPasswordHasher(
  options: { pool?: CpuPool; legacyHashesRemain?: () => Promise<boolean> } = {},
): PasswordHasher {
  let dummyHash: Promise<string> | undefined;
  let dummyBcrypt: Promise<string> | undefined;
  const legacyHashesRemain = options.legacyHashesRemain ?? (async () => false);

  const lane = (options.pool ?? cpuPool()).lane({
    priority: 'interactive',
    maxPending: HASH_QUEUE_LIMIT,
    retryAfterSeconds: HASH_RETRY_AFTER_SECONDS,
  });
  const argon2Hash = (password: string) => lane.run('hashPassword', { password, options: ARGON2_OPTIONS });
  const argon2Check = (hash: string, password: string) => lane.run('verifyArgon2', { hash, password }).catch(failedUnlessRefused);
  const bcryptCheck = (hash: string, password: string) => lane.run('verifyBcrypt', { hash, password }).catch(failedUnlessRefused);

  /** What a failed check of the other kind costs, while legacy hashes remain (see above). */
  async function padFailure(kind: 'argon2' | 'bcrypt', password: string): Promise<void> {
    if (!(await legacyHashesRemain())) return;
    if (kind === 'bcrypt') {
      dummyBcrypt ??= lane.run('hashBcrypt', { password: 'dummy password for timing', cost: LEGACY_BCRYPT_COST });
      await bcryptCheck(await dummyBcrypt, password);
    } else {
      dummyHash ??= argon2Hash('dummy password for unknown accounts');
      await argon2Check(await dummyHash, password);
    }
  }

  async function verify(storedHash: string, password: string): Promise<PasswordCheck> {
    if (storedHash.startsWith('$argon2')) {
      const ok = await argon2Check(storedHash, password);
      if (!ok) await padFailure('bcrypt', password);
      return { ok, needsRehash: ok && !storedHash.startsWith(CURRENT_PREFIX) };
    }
    if (isLegacyBcrypt(storedHash)) {
      // bcrypt reads only the first 72 bytes: the old service's users keep logging in with the
      // password they typed, and the re-hash below makes every byte count from then on.
      const ok = await bcryptCheck(storedHash, password);
      if (!ok) await padFailure('argon2', password);
      return { ok, needsRehash: ok };
    }
    // Unreadable (a hand-edited row): fails like any wrong password, in the same time.
    dummyHash ??= argon2Hash('dummy password for unknown accounts');
    await argon2Check(await dummyHash, password);
    await padFailure('bcrypt', password);
    return { ok: false, needsRehash: false };
  }

  return {
    hash: argon2Hash,
    verify,
    async verifyDummy(password) {
      dummyHash ??= argon2Hash('dummy password for unknown accounts');
      // As a migrated account's wrong password: argon2id, plus the bcrypt pad while legacy hashes remain.
      await verify(await dummyHash, password);
      return false;
    },
  };
}
