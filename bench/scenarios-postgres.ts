/**
 * `me-pg`: GET /users/me on PostgreSQL, the many-instance path, against its own baseline (a bare
 * Fastify route doing the same point lookup over `pg`, same bytes), in rounds as `me` does: with
 * the user cache on (the default, PG_USER_CACHE=true; the target, ≥ 0.80×) and off (every request
 * reads the row: what the cache buys). Needs a PostgreSQL server: BENCH_POSTGRES_URL or
 * TEST_POSTGRES_URL (a role that may create databases); without one the rows say skipped.
 * The database is a copy of the SQLite seed (same users, ids and hashes), made for this run and
 * dropped after it.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { openStore } from '../src/store/open.js';
import { createTempPostgresDatabase } from '../test/helpers/postgres.js';
import { load } from './http.js';
import { type Child, spawnBaseline, spawnService, waitFor200 } from './processes.js';
import type { Row } from './report.js';
import { againstBaseline, type BenchContext, cpuNote, login, meBodyBytes, meLoad, pairedRatio, round, row, CONNECTIONS } from './scenarios.js';
import type { SeededDatabase } from './seed.js';

/** Copies the seeded users into PostgreSQL, 1,000 rows a statement. */
async function copyUsers(seed: SeededDatabase, url: string): Promise<void> {
  const store = await openStore({ kind: 'postgres', url, poolSize: 2, statementTimeoutMs: 60_000 });
  await store.close();
  const sqlite = new Database(seed.file, { readonly: true });
  const rows = sqlite.prepare('select id, username, username_lower, email, email_lower, password_hash, full_name, role, created_at from users').all() as Record<string, unknown>[];
  sqlite.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (let i = 0; i < rows.length; i += 1000) {
      const batch = rows.slice(i, i + 1000);
      const values: unknown[] = [];
      const tuples = batch.map((r, j) => {
        values.push(r.id, r.username, r.username_lower, r.email, r.email_lower, r.password_hash, r.full_name, r.role, r.created_at);
        return `(${Array.from({ length: 9 }, (_, k) => `$${j * 9 + k + 1}`).join(', ')})`;
      });
      await client.query(
        `insert into users (id, username, username_lower, email, email_lower, password_hash, full_name, role, created_at) values ${tuples.join(', ')}`,
        values,
      );
    }
  } finally {
    await client.end();
  }
}

export async function mePostgres(base: { seed: SeededDatabase; seconds: number; rows: Row[]; notes: string[] }): Promise<void> {
  const adminUrl = process.env.BENCH_POSTGRES_URL ?? process.env.TEST_POSTGRES_URL;
  if (!adminUrl) {
    base.rows.push({ scenario: 'me-pg', target: '≥ 0.80× pg baseline', measured: 'skipped: set BENCH_POSTGRES_URL (or TEST_POSTGRES_URL)' });
    return;
  }
  const database = await createTempPostgresDatabase(adminUrl);
  const children: Child[] = [];
  try {
    await copyUsers(base.seed, database.url);
    const start = async (cache: boolean) => {
      const service = await spawnService(base.seed.dir, [], { DATABASE_URL: database.url, PG_USER_CACHE: String(cache) });
      children.push(service);
      await waitFor200(service, '/health/db');
      return service;
    };
    let service = await start(true);
    const token = await login(service.url, base.seed.email(1));
    const baseline = await spawnBaseline('', await meBodyBytes(service.url, token), database.url);
    children.push(baseline);
    await waitFor200(baseline, '/health');
    const ctx: BenchContext = { service, baseline, seed: base.seed, seconds: base.seconds, rows: base.rows, notes: base.notes, meUser: 1, tokens: { me: token, admin: '' } };

    const b = await load({ url: `${baseline.url}/users/${base.seed.id(1)}`, connections: CONNECTIONS, seconds: base.seconds });
    row(ctx, 'baseline (me-pg)', b, { vsBaseline: 1, note: 'bare Fastify + pg point lookup (pool of 10)' });

    const cached = await againstBaseline(ctx, meLoad(ctx));
    row(ctx, 'me-pg (user cache)', cached.result, {
      vsBaseline: round(cached.ratio, 3),
      target: '≥ 0.80× pg baseline',
      measured: `${pairedRatio(cached.ratio, cached.ratios)}, p99 ${cached.result.p99} ms; ${cpuNote(cached)}`,
      pass: cached.ratio >= 0.8,
    });

    await service.stop();
    service = await start(false);
    ctx.service = service;
    ctx.tokens.me = await login(service.url, base.seed.email(1));
    const uncached = await againstBaseline(ctx, meLoad(ctx));
    row(ctx, 'me-pg (PG_USER_CACHE=false)', uncached.result, {
      vsBaseline: round(uncached.ratio, 3),
      measured: `${pairedRatio(uncached.ratio, uncached.ratios)}, p99 ${uncached.result.p99} ms; ${cpuNote(uncached)}`,
    });
    base.notes.push(`me-pg: PostgreSQL ${new URL(adminUrl).host}, a fresh database with the ${base.seed.count} seeded users; service and baseline each a pool of 10`);
  } finally {
    for (const child of children) await child.stop();
    await database.drop();
  }
}
