/**
 * Prometheus metrics (prom-client) in a registry of their own: never prom-client's global one, so
 * two apps in one process (tests, the CLI) never share or clash over a metric.
 *
 * What is measured: HTTP requests by method, route pattern and status; logins by result; the time
 * of password hashing and verification; database errors and, when the store can tell, its
 * connection pool; and prom-client's process metrics (event-loop lag, memory, CPU, GC, handles).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export type LoginResult = 'success' | 'failure' | 'mfa_required';

/** What a pooled store (PostgreSQL) can report about its pool. */
export interface PoolStats {
  /** Open connections, idle or in use. */
  total: number;
  idle: number;
  /** Queries waiting for a free connection: a pool too small for the load. */
  waiting: number;
}

/** The subset of the password hasher that is timed; extra methods pass through untouched. */
interface TimedHasher {
  hash(password: string): Promise<string>;
  verify(storedHash: string, password: string): Promise<unknown>;
  verifyDummy(password: string): Promise<unknown>;
}

export interface Metrics {
  readonly registry: Registry;
  observeRequest(labels: { method: string; route: string; status: number }, seconds: number): void;
  observeLogin(result: LoginResult): void;
  /** Times one hashing operation; the result (or error) passes through. */
  timeHash<R>(op: 'hash' | 'verify', fn: () => Promise<R>): Promise<R>;
  /** The same hasher, every hash and verify timed. */
  timePasswords<T extends TimedHasher>(hasher: T): T;
  countDbError(kind: 'unavailable' | 'pool'): void;
  /** The Prometheus text exposition of every metric. */
  render(): Promise<{ contentType: string; body: string }>;
}

export interface MetricsOptions {
  /** Pool statistics of the store, when it has a pool (see poolStatsOf). */
  poolStats?: (() => PoolStats) | null;
  /** prom-client's process metrics (default true). */
  processMetrics?: boolean;
}

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
// argon2id at m=19 MiB, t=2 takes tens of milliseconds on one core; queueing on libuv's four
// threads under a burst of logins shows up as the upper buckets.
const HASH_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving a request to sending its response, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });
  const logins = new Counter({
    name: 'auth_logins_total',
    help: 'Login attempts by result (failure: wrong email or password, locked or disabled account)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const hashTime = new Histogram({
    name: 'password_hash_duration_seconds',
    help: 'Time to hash (op="hash") or verify (op="verify") a password, thread-pool queueing included',
    labelNames: ['op'] as const,
    buckets: HASH_BUCKETS,
    registers: [registry],
  });
  const dbErrors = new Counter({
    name: 'db_errors_total',
    help: 'Database errors: unavailable (a request answered 503), pool (an idle pooled connection failed, when the store reports it)',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  // Start every series at 0, so rate() and alerts work before the first event.
  for (const result of ['success', 'failure', 'mfa_required'] as const) logins.inc({ result }, 0);
  for (const kind of ['unavailable', 'pool'] as const) dbErrors.inc({ kind }, 0);

  const poolStats = options.poolStats ?? null;
  if (poolStats !== null) {
    new Gauge({
      name: 'db_pool_connections',
      help: 'Database pool connections by state (total open, idle)',
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        const stats = poolStats();
        this.set({ state: 'total' }, stats.total);
        this.set({ state: 'idle' }, stats.idle);
      },
    });
    new Gauge({
      name: 'db_pool_waiting_requests',
      help: 'Queries waiting for a free pooled connection',
      registers: [registry],
      collect() {
        this.set(poolStats().waiting);
      },
    });
  }

  async function timeHash<R>(op: 'hash' | 'verify', fn: () => Promise<R>): Promise<R> {
    const end = hashTime.startTimer({ op });
    try {
      return await fn();
    } finally {
      end();
    }
  }

  return {
    registry,
    observeRequest(labels, seconds) {
      const l = { method: labels.method, route: labels.route, status: String(labels.status) };
      requests.inc(l);
      duration.observe(l, seconds);
    },
    observeLogin: (result) => logins.inc({ result }),
    timeHash,
    timePasswords(hasher) {
      // A spread of T with its timed methods replaced is still a T; TypeScript cannot see that.
      return {
        ...hasher,
        hash: (password: string) => timeHash('hash', () => hasher.hash(password)),
        verify: (storedHash: string, password: string) => timeHash('verify', () => hasher.verify(storedHash, password)),
        verifyDummy: (password: string) => timeHash('verify', () => hasher.verifyDummy(password)),
      } as typeof hasher;
    },
    countDbError: (kind) => dbErrors.inc({ kind }),
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

/**
 * The store's pool statistics, when it offers them as `poolStats()` (the PostgreSQL store's pg
 * Pool: totalCount, idleCount, waitingCount). Looked up rather than required, because the Store
 * port has no pool on SQLite or MongoDB.
 */
export function poolStatsOf(store: object): (() => PoolStats) | null {
  const candidate = (store as { poolStats?: unknown }).poolStats;
  return typeof candidate === 'function' ? () => (candidate as () => PoolStats).call(store) : null;
}
