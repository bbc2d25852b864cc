/**
 * `npm run bench:pages`: the cost of one GET /users page at the store, first page against a page
 * deep in the table, at 1k and 100k users, on SQLite and (with BENCH_POSTGRES_URL or
 * TEST_POSTGRES_URL, a superuser URL) PostgreSQL. Keyset paging makes both cost the same; OFFSET
 * paging would make the deep page grow with the table. Medians of many calls, side by side.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import { Pool } from 'pg';
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/store.js';
import { createTempPostgresDatabase } from '../test/helpers/postgres.js';

const SIZES = [1_000, 100_000];
const PAGE = 50;
const CALLS = 300;

/** ObjectId-form ids one second apart, so id order is insertion order. */
function ids(count: number): string[] {
  const first = Math.floor(Date.now() / 1000) - count - 60;
  return Array.from({ length: count }, (_, i) => (first + i).toString(16).padStart(8, '0') + (i % 0xffffffff).toString(16).padStart(16, '0'));
}

/** Bulk rows through a second connection: one multi-row insert per 1,000 users. */
async function seed(count: number, insert: (rows: string[]) => Promise<void>): Promise<string[]> {
  const all = ids(count);
  for (let i = 0; i < all.length; i += 1000) await insert(all.slice(i, i + 1000));
  return all;
}

async function median(work: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 20; i++) await work();
  const times: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now();
    await work();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return (times[Math.floor(times.length / 2)] as number) * 1000;
}

/** A store under test, a second connection to seed it through, and how to throw both away. */
interface Subject {
  store: Store;
  seeder: Kysely<unknown>;
  cleanup(): Promise<void>;
}

async function measure(label: string, open: () => Promise<Subject>) {
  for (const size of SIZES) {
    const { store, seeder, cleanup } = await open();
    try {
      const all = await seed(size, (rows) => insertRows(seeder, rows));
      const deep = all[all.length - PAGE - 10] as string;
      const first = await median(() => store.listUsers({ limit: PAGE + 1 }));
      const deepCost = await median(() => store.listUsers({ limit: PAGE + 1, after: deep }));
      console.log(
        `${label.padEnd(10)} ${String(size).padStart(7)} users   first page ${first.toFixed(0).padStart(6)} µs   deep page ${deepCost.toFixed(0).padStart(6)} µs   deep/first ${(deepCost / first).toFixed(2)}×`,
      );
    } finally {
      await seeder.destroy();
      await store.close();
      await cleanup();
    }
  }
}

function rowsSql(rows: string[]) {
  return sql.join(
    rows.map(
      (id, i) =>
        sql`(${id}, ${`u${id}`}, ${`u${id}@example.com`}, ${`u${id}@example.com`}, ${'$argon2id$v=19$m=19456,t=2,p=1$x$y'}, ${null}, ${i % 3 === 0 ? 'teacher' : 'student'}, ${new Date().toISOString()})`,
    ),
  );
}

async function insertRows(db: Kysely<unknown>, rows: string[]): Promise<void> {
  await sql`insert into users (id, username, email, email_lower, password_hash, full_name, role, created_at) values ${rowsSql(rows)}`.execute(db);
}

async function main() {
  await measure('sqlite', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'authqr-pages-'));
    const file = path.join(dir, 'app.db');
    const store = await openStore({ kind: 'sqlite', file });
    const seeder = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new Database(file) }) });
    return { store, seeder, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  });

  const adminUrl = process.env.BENCH_POSTGRES_URL ?? process.env.TEST_POSTGRES_URL;
  if (adminUrl === undefined) {
    console.log('postgres: skipped (set BENCH_POSTGRES_URL or TEST_POSTGRES_URL to a superuser URL)');
    return;
  }
  await measure('postgres', async () => {
    const temp = await createTempPostgresDatabase(adminUrl);
    const store = await openStore({ kind: 'postgres', url: temp.url, poolSize: 4, statementTimeoutMs: 30_000 });
    const seeder = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new Pool({ connectionString: temp.url, max: 1 }) }) });
    return { store, seeder, cleanup: temp.drop };
  });
}

await main();
