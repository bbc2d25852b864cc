/**
 * Runs on a CPU worker (cpu-worker.ts), never on the event loop: argon2id hashes and the
 * verification of argon2 and of the old service's bcrypt hashes. The synchronous calls on
 * purpose: they run on the worker's own thread, which is niced; the async ones would run on
 * libuv's pool at normal priority and compete with the event loop again.
 */
import { hashSync, type Options, verifySync as verifyArgon2Sync } from '@node-rs/argon2';
import { hashSync as hashBcryptSync, verifySync as verifyBcryptSync } from '@node-rs/bcrypt';

export const hashPassword = ({ password, options }: { password: string; options: Options }): string =>
  hashSync(password, options);

export const verifyArgon2 = ({ hash, password }: { hash: string; password: string }): boolean => verifyArgon2Sync(hash, password);

export const verifyBcrypt = ({ hash, password }: { hash: string; password: string }): boolean => verifyBcryptSync(password, hash);

/** A bcrypt hash of the old service's cost, for the timing dummy of passwords.ts (made once). */
export const hashBcrypt = ({ password, cost }: { password: string; cost: number }): string => hashBcryptSync(password, cost);
