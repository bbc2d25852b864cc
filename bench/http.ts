/**
 * One load run with autocannon against 127.0.0.1: req/s, latency percentiles, and how many
 * answers were not the expected status (a run full of 401s or 429s is no measurement).
 */
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  seconds: number;
  /** Builds each request (path and body may vary per request; the cache-miss runs need that). */
  next?: () => { path: string; body?: string };
  /** A short unrecorded run first, so the JIT and caches are warm. */
  warmupSeconds?: number;
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  /** Non-2xx answers plus connection errors and timeouts. */
  failures: number;
}

interface Run {
  result: autocannon.Result;
  /** 2xx latencies in ms with full precision (autocannon's histogram keeps whole milliseconds). */
  latencies: Float64Array;
}

async function run(options: LoadOptions, seconds: number): Promise<Run> {
  const { url, method = 'GET', headers = {}, body, connections, next } = options;
  const requests = next
    ? [
        {
          setupRequest: (request: autocannon.Request) => {
            const made = next();
            return { ...request, path: made.path, ...(made.body !== undefined ? { body: made.body } : {}) };
          },
        },
      ]
    : undefined;
  const opts: autocannon.Options = {
    url,
    method,
    headers: body !== undefined || method === 'POST' ? { 'content-type': 'application/json', ...headers } : headers,
    ...(body !== undefined ? { body } : {}),
    ...(requests ? { requests } : {}),
    connections,
    duration: seconds,
    timeout: 10,
  };
  let latencies = new Float64Array(1 << 16);
  let n = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(opts, (error, r) => (error ? reject(error) : resolve(r)));
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status < 200 || status >= 300) return;
      if (n === latencies.length) {
        const bigger = new Float64Array(n * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[n++] = ms;
    });
  });
  return { result, latencies: latencies.subarray(0, n).sort() };
}

const percentile = (sorted: Float64Array, p: number) =>
  sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);

export async function load(options: LoadOptions): Promise<LoadResult> {
  if ((options.warmupSeconds ?? 1) > 0) await run(options, options.warmupSeconds ?? 1);
  const { result: r, latencies } = await run(options, options.seconds);
  return {
    rps: r.requests.average,
    p50: Number(percentile(latencies, 50).toFixed(2)),
    p99: Number(percentile(latencies, 99).toFixed(2)),
    requests: r.requests.total,
    failures: r.non2xx + r.errors + r.timeouts,
  };
}
