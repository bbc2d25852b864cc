/**
 * Password hashing: argon2id (OWASP's m=19 MiB, t=2, p=1) for every new hash, and verification
 * of the old service's bcrypt hashes until each user's next successful login re-hashes them.
 * Both libraries are native and asynchronous: hashing runs on libuv's thread pool, never on the
 * event loop (the old service's bcrypt stalled every request during a login).
 */
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { verify as bcryptVerify } from '@node-rs/bcrypt';

/** Algorithm.Argon2id of @node-rs/argon2 (a const enum, which isolated modules cannot import). */
const ARGON2ID = 2;
const ARGON2_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;
/** A hash made with exactly these parameters needs no upgrade. */
const CURRENT_PREFIX = '$argon2id$v=19$m=19456,t=2,p=1$';
const BCRYPT_RE = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

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

export function isLegacyBcrypt(storedHash: string): boolean {
  return BCRYPT_RE.test(storedHash);
}

export function createPasswordHasher(): PasswordHasher {
  let dummyHash: Promise<string> | undefined;

  async function verify(storedHash: string, password: string): Promise<PasswordCheck> {
    if (storedHash.startsWith('$argon2')) {
      const ok = await argon2Verify(storedHash, password).catch(() => false);
      return { ok, needsRehash: ok && !storedHash.startsWith(CURRENT_PREFIX) };
    }
    if (isLegacyBcrypt(storedHash)) {
      // bcrypt reads only the first 72 bytes: the old service's users keep logging in with the
      // password they typed, and the re-hash below makes every byte count from then on.
      const ok = await bcryptVerify(password, storedHash).catch(() => false);
      return { ok, needsRehash: ok };
    }
    return { ok: false, needsRehash: false };
  }

  return {
    hash: (password) => argon2Hash(password, ARGON2_OPTIONS),
    verify,
    async verifyDummy(password) {
      dummyHash ??= argon2Hash('dummy password for unknown accounts', ARGON2_OPTIONS);
      await verify(await dummyHash, password);
      return false;
    },
  };
}
