/**
 * `npm run bench:purge`: the periodic purge (src/maintenance/purger.ts) working off a backlog of
 * 1M expired rows (one-time tokens) and 1M audit events past their retention, on SQLite and (with
 * BENCH_POSTGRES_URL or TEST_POSTGRES_URL, a superuser URL) PostgreSQL. Reported: the whole
 * time, rows a second, the longest single batch (what a concurrent request can wait behind), and
 * a point lookup's p99 while the purge runs against its p99 idle, in the same run.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Pool } from 'pg';
import { createPurger } from '../src/maintenance/purger.js';
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/store.js';
import { firstIdAt } from '../src/users/ids.js';
import { createTempPostgresDatabase } from '../test/helpers/postgres.js';

const ROWS = Number(process.env.BENCH_PURGE_ROWS ?? 1_000_000);
const DAY = 24 * 3600_000;
const silent = { info: () => {}, error: () => {} };

/** A row a time, for the insert's `values` list. */
function rowsOf(n: number, at: number) {
  const expired = new Date(at - DAY).toISOString();
  const old = new Date(at - 400 * DAY);
  const tokens: unknown[][] = [];
  const events: unknown[][] = [];
  const base = BigInt(`0x${firstIdAt(old)}`);
  for (let i = 0; i < n; i++) {
    tokens.push([randomBytes(32).toString('hex'), 'mfa', null, expired, expired, null]);
    events.push([(base + BigInt(i)).toString(16).padStart(24, '0'), old.toISOString(), 'login.failed']);
  }
  return { tokens, events };
}

async function p99(lookup: () => Promise<unknown>, while_: Promise<unknown> | null, count = 400): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await lookup();
    times.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 2));
  }
  await while_;
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length * 0.99)] as number;
}

async function measure(label: string, store: Store, seed: (tokens: unknown[][], events: unknown[][]) => Promise<void>) {
  const userId = (await store.insertUser({ id: '6916d8000000000000000bbb', username: 'probe', email: 'probe@example.com', passwordHash: 'x', fullName: null, role: 'student', createdAt: new Date() })).id;
  const seededAt = performance.now();
  const { tokens, events } = rowsOf(ROWS, Date.now());
  await seed(tokens, events);
  const seedMs = performance.now() - seededAt;
  const lookup = () => store.findUserById(userId);
  const idle = await p99(lookup, null);
  const purger = createPurger({ store, policy: { auditRetentionDays: 365 }, log: silent });
  const started = performance.now();
  let longest = 0;
  let total = 0;
  const running = (async () => {
    for (;;) {
      const round = await purger.runOnce(Number.POSITIVE_INFINITY);
      longest = Math.max(longest, round.longestBatchMs);
      const deleted = Object.values(round.deleted).reduce((a, b) => a + b, 0);
      total += deleted;
      if (deleted === 0) break;
    }
  })();
  const during = await p99(lookup, running);
  const ms = performance.now() - started;
  console.log(
    `${label}: ${total.toLocaleString('en')} rows purged in ${(ms / 1000).toFixed(1)} s (${Math.round(total / (ms / 1000)).toLocaleString('en')} rows/s), ` +
      `longest batch ${longest.toFixed(1)} ms; point lookup p99 ${idle.toFixed(2)} ms idle, ${during.toFixed(2)} ms during the purge ` +
      `(${(during / idle).toFixed(1)}×); seeding took ${(seedMs / 1000).toFixed(1)} s`,
  );
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'authqr-purge-'));
try {
  const file = path.join(dir, 'app.db');
  const store = await openStore({ kind: 'sqlite', file });
  await store.migrate();
  await measure('SQLite', store, async (tokens, events) => {
    const db = new Database(file);
    const insertToken = db.prepare('insert into one_time_tokens (hash, purpose, user_id, created_at, expires_at, data) values (?, ?, ?, ?, ?, ?)');
    const insertEvent = db.prepare("insert into audit_events (id, at, type) values (?, ?, ?)");
    db.transaction(() => {
      for (const t of tokens) insertToken.run(...t);
      for (const e of events) insertEvent.run(...e);
    })();
    db.close();
  });
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const pgUrl = process.env.BENCH_POSTGRES_URL ?? process.env.TEST_POSTGRES_URL;
if (pgUrl) {
  const database = await createTempPostgresDatabase(pgUrl);
  try {
    const store = await openStore({ kind: 'postgres', url: database.url, poolSize: 10, statementTimeoutMs: 60_000 });
    await store.migrate();
    await measure('PostgreSQL', store, async (tokens, events) => {
      const pool = new Pool({ connectionString: database.url });
      for (let i = 0; i < tokens.length; i += 5000) {
        const chunk = tokens.slice(i, i + 5000);
        await pool.query(
          'insert into one_time_tokens (hash, purpose, user_id, created_at, expires_at, data) select * from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[])',
          [0, 1, 2, 3, 4, 5].map((c) => chunk.map((r) => r[c])),
        );
        const events_ = events.slice(i, i + 5000);
        await pool.query('insert into audit_events (id, at, type) select * from unnest($1::text[], $2::timestamptz[], $3::text[])', [0, 1, 2].map((c) => events_.map((r) => r[c])));
      }
      await pool.end();
    });
    await store.close();
  } finally {
    await database.drop();
  }
} else {
  console.log('PostgreSQL: skipped (set BENCH_POSTGRES_URL or TEST_POSTGRES_URL)');
}
