/**
 * The baseline: a bare Fastify 5 app (no logger, no hooks, no schema) with one route doing what
 * GET /users/me does at its core — a better-sqlite3 point lookup by id on the same database file
 * — and answering the UserResponse fields it had when written, padded with a `pad` string to
 * exactly BASELINE_BODY_BYTES (the size of /users/me's body, measured by the bench just before),
 * so both send as many bytes. The service's ratio to it is the cost of everything else: auth,
 * Kysely, hooks, logging, validation.
 * Run by bench/run.ts as its own process: BASELINE_DB=<file> BASELINE_PORT=<port> BASELINE_BODY_BYTES=<n>.
 * With BASELINE_PG_URL=<url> instead of BASELINE_DB, the lookup goes over `pg` (a pool of
 * BASELINE_PG_POOL connections, the service's PG_POOL_SIZE default): the PostgreSQL baseline.
 */
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import pg from 'pg';

interface Row {
  id: string;
  username: string;
  email: string;
  full_name: string | null;
  role: string;
  created_at: string;
  qr_code: string | null;
}

const file = process.env.BASELINE_DB;
const pgUrl = process.env.BASELINE_PG_URL;
const port = Number(process.env.BASELINE_PORT);
const bodyBytes = Number(process.env.BASELINE_BODY_BYTES ?? 0);
if ((file === undefined && pgUrl === undefined) || !Number.isInteger(port)) throw new Error('BASELINE_DB (or BASELINE_PG_URL) and BASELINE_PORT are required');

let byId: (id: string) => Promise<Row | undefined> | Row | undefined;
let closeDb: () => Promise<void> | void;
if (pgUrl !== undefined) {
  const pool = new pg.Pool({ connectionString: pgUrl, max: Number(process.env.BASELINE_PG_POOL ?? 10) });
  byId = async (id) => (await pool.query<Row>('select * from users where id = $1', [id])).rows[0];
  closeDb = () => pool.end();
} else {
  const db = new Database(file as string);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  const statement = db.prepare<[string], Row>('select * from users where id = ?');
  byId = (id) => statement.get(id);
  closeDb = () => {
    db.close();
  };
}

const app = Fastify();
app.get('/health', async () => ({ status: 'ok' }));
app.get<{ Params: { id: string } }>('/users/:id', async (request, reply) => {
  const row = await byId(request.params.id);
  if (row === undefined) return reply.code(404).send({ detail: 'not found' });
  const body: Record<string, unknown> = {
    id: row.id,
    username: row.username,
    email: row.email,
    full_name: row.full_name,
    role: row.role,
    created_at: row.created_at,
    qr_code: row.qr_code,
  };
  // `,"pad":""` is 9 bytes; the pad fills the rest (ASCII, so characters are bytes).
  const missing = bodyBytes - Buffer.byteLength(JSON.stringify(body)) - 9;
  if (missing >= 0) body.pad = padding(missing);
  return body;
});

const pads = new Map<number, string>();
function padding(n: number): string {
  let pad = pads.get(n);
  if (pad === undefined) pads.set(n, (pad = 'x'.repeat(n)));
  return pad;
}

const close = () => {
  void app
    .close()
    .then(() => closeDb())
    .then(() => process.exit(0));
};
process.once('SIGTERM', close);
process.once('SIGINT', close);
await app.listen({ host: '127.0.0.1', port });
