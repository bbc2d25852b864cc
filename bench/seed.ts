/**
 * A temporary SQLite database with N users, made in a second or two: the service's own
 * migrations create the schema, then one better-sqlite3 transaction inserts the rows. Every
 * seeded user shares ONE argon2id hash (same parameters as the service's), so logins cost a real
 * verification while seeding costs one hash instead of N.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hash } from '@node-rs/argon2';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import Database from 'better-sqlite3';
import { openStore } from '../src/store/open.js';

/** The service's parameters (src/auth/passwords/passwords.ts): Argon2id, m=19 MiB, t=2, p=1. */
export const ARGON2_OPTIONS = { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;
export const SEED_PASSWORD = 'bench-password-01';
/**
 * The last users are "imported from the old service": one shared bcrypt-12 hash (its cost), for
 * the login-timing scenario. Other scenarios sign in as the users before them.
 */
export const LEGACY_USERS = 40;

export interface SeededDatabase {
  dir: string;
  file: string;
  count: number;
  admin: { id: string; email: string };
  /** The i-th seeded user (0 is the admin); emails and usernames are predictable. */
  email(i: number): string;
  /** Index of the first of the LEGACY_USERS users with a bcrypt hash (the last ones). */
  firstLegacy: number;
  id(i: number): string;
  /** A cursor ~60 users before the end: the page after it is full and deep in the table. */
  deepCursor: string;
  ms: number;
}

export function benchEmail(i: number): string {
  // 22 characters, like a typical address: the QR payload then needs a version-5 symbol,
  // i.e. the 470 x 470 px at 10 px per module with a 5-module border.
  return `user${String(i).padStart(6, '0')}@example.com`;
}

export async function seedDatabase(count: number, dir = mkdtempSync(path.join(os.tmpdir(), 'authqr-bench-'))): Promise<SeededDatabase> {
  const started = performance.now();
  const file = path.join(dir, 'app.db');
  const store = await openStore({ kind: 'sqlite', file });
  await store.close();

  const passwordHash = await hash(SEED_PASSWORD, ARGON2_OPTIONS);
  const legacyHash = await bcryptHash(SEED_PASSWORD, 12);
  const firstLegacy = count - LEGACY_USERS;
  // ObjectId form: 4 bytes of seconds, then 8 random bytes. One second apart, so id order is
  // insertion order and the deep cursor is known without a query.
  const firstSecond = Math.floor(Date.now() / 1000) - count - 60;
  const ids: string[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const buf = Buffer.alloc(12);
    buf.writeUInt32BE(firstSecond + i, 0);
    randomBytes(8).copy(buf, 4);
    ids[i] = buf.toString('hex');
  }

  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  const insert = db.prepare(
    `insert into users (id, username, username_lower, email, email_lower, password_hash, full_name, role, created_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const email = benchEmail(i);
      const role = i === 0 ? 'admin' : i % 10 === 0 ? 'teacher' : 'student';
      const createdAt = new Date((firstSecond + i) * 1000).toISOString();
      const username = `user${String(i).padStart(6, '0')}`;
      insert.run(ids[i], username, username, email, email, i >= firstLegacy ? legacyHash : passwordHash, `Bench User ${i}`, role, createdAt);
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();

  return {
    dir,
    file,
    count,
    admin: { id: ids[0] as string, email: benchEmail(0) },
    email: benchEmail,
    firstLegacy,
    id: (i) => ids[i] as string,
    deepCursor: ids[Math.max(0, count - 60)] as string,
    ms: performance.now() - started,
  };
}
