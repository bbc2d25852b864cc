/**
 * Where the HS256 secret comes from: JWT_SECRET when set (config.ts checks its length and
 * refuses a missing one in production). Otherwise, for `npm start` on a laptop, a random secret
 * generated once and kept in the data folder with mode 0600, so tokens survive restarts. The old
 * service fell back to a public placeholder instead: anyone could mint tokens.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config.js';

export interface SecretLogger {
  info(message: string): void;
  warn(message: string): void;
}

export const GENERATED_SECRET_FILE = 'jwt-secret';

export function resolveSigningSecret(config: Config, log: SecretLogger): Buffer {
  if (config.jwt.secret !== null) return Buffer.from(config.jwt.secret, 'utf8');

  const file = path.join(config.dataDir, GENERATED_SECRET_FILE);
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (Buffer.byteLength(existing) >= 32) {
      if ((statSync(file).mode & 0o077) !== 0) {
        chmodSync(file, 0o600);
        log.warn(`${file} was readable by others; its mode is now 0600`);
      }
      return Buffer.from(existing, 'utf8');
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(config.dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  try {
    // 'wx': never overwrite a secret that another process has just written; use theirs.
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Another process wrote it first: use theirs, unless it is too short (a truncated write),
    // which would make a guessable key.
    const theirs = readFileSync(file, 'utf8').trim();
    if (Buffer.byteLength(theirs) < 32) {
      throw new Error(`${file} holds fewer than 32 bytes: remove it (a new secret is generated) or set JWT_SECRET`);
    }
    return Buffer.from(theirs, 'utf8');
  }
  log.info(`No JWT_SECRET set: generated a signing secret in ${file} (mode 0600). Set JWT_SECRET in production.`);
  return Buffer.from(secret, 'utf8');
}
