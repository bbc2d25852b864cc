/**
 * A paced probe: light GET requests at a fixed rate, each timed on its own with process.hrtime,
 * to ask "how long does a cheap request wait while something heavy runs?". Open loop: every
 * request leaves at its time whether or not the ones before it have answered, so a stall of the
 * server shows as the latencies of all the requests sent during it (a closed-loop client would
 * send fewer and hide it). Unlike autocannon's runs it adds almost no load of its own: 150
 * requests a second leave the server idle but for them, and the probe itself sleeps between them.
 *
 * Reusable by any scenario: measure it idle, then while the heavy load runs (from another
 * process, so that the load's own work does not delay the probe's timers), and compare p99s
 * measured in the same run.
 */
import http from 'node:http';

export interface ProbeOptions {
  url: string;
  headers?: Record<string, string>;
  /** Requests a second (150 by default). */
  ratePerSecond?: number;
  /** Requests in all (1,500 by default: ten seconds at 150/s). */
  count?: number;
}

export interface ProbeResult {
  count: number;
  /** Latencies of the 2xx answers, in ms. */
  p50: number;
  p99: number;
  max: number;
  /** Answers that were not 2xx, and errors. */
  failures: number;
  /** Requests that left more than 5 ms after their time (the probe's own process was busy). */
  late: number;
}

const percentile = (sorted: Float64Array, p: number) =>
  sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);

const round = (ms: number) => Number(ms.toFixed(2));

export async function pacedProbe(options: ProbeOptions): Promise<ProbeResult> {
  const { url, headers = {}, ratePerSecond = 150, count = 1500 } = options;
  // Enough sockets that a stalled server never makes a request wait for a free one on our side.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const intervalNs = BigInt(Math.round(1e9 / ratePerSecond));
  const latencies = new Float64Array(count);
  let answered = 0;
  let failures = 0;
  let late = 0;

  const send = () =>
    new Promise<void>((resolve) => {
      const started = process.hrtime.bigint();
      const request = http.get(url, { agent, headers }, (response) => {
        response.resume();
        response.once('end', () => {
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          if (response.statusCode !== undefined && response.statusCode >= 200 && response.statusCode < 300) latencies[answered++] = ms;
          else failures += 1;
          resolve();
        });
      });
      request.once('error', () => {
        failures += 1;
        resolve();
      });
    });

  const inFlight: Promise<void>[] = [];
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const due = start + BigInt(i) * intervalNs;
    // A timer, never a spin on the clock: spinning to leave at the exact microsecond cost ~1 ms of
    // CPU a request (a quarter of a core at 150/s), taken from the service on a 2-core machine.
    // Leaving up to a millisecond after its time changes no latency: each is timed from its send.
    const waitMs = Number(due - process.hrtime.bigint()) / 1e6;
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, Math.ceil(waitMs)));
    if (Number(process.hrtime.bigint() - due) / 1e6 > 5) late += 1;
    inFlight.push(send());
  }
  await Promise.all(inFlight);
  agent.destroy();
  const sorted = latencies.subarray(0, answered).sort();
  return {
    count,
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.length > 0 ? (sorted[sorted.length - 1] as number) : Number.NaN),
    failures,
    late,
  };
}
