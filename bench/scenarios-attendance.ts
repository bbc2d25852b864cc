/**
 * The attendance burst (issue 13): 500 distinct students check in to one session over real HTTP
 * from one IP (a lecture hall is one NAT address), 50 at a time, while a teacher's live stream is
 * open. Judged: all accepted and none lost (the store holds 500), check-ins per second against the
 * /users/me rate of the same run (≥ 0.5×), p99, and the delay from each accepted check-in's answer
 * to its event on the stream (p95 ≤ 1 s). Logging the students in first is set-up, not measured.
 */
import autocannon from 'autocannon';
import { CONNECTIONS, type BenchContext, login, meLoad, round } from './scenarios.js';
import { load } from './http.js';

const STUDENTS = 500;
const WITHIN_MS = 10_000;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

async function call(url: string, method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/**
 * One check-in per token into the session, 50 connections at once, with autocannon (the client the
 * /users/me figure is measured with, so the ratio compares the service, not two clients). The
 * code is re-read every 2 s, as a phone reads the projector's current one.
 */
async function burst(url: string, teacher: string, base: string, sessionId: string, tokens: string[]) {
  let code = String((await call(url, 'GET', `${base}/code`, teacher)).code);
  const refresh = setInterval(() => {
    void call(url, 'GET', `${base}/code`, teacher).then((c) => (code = String(c.code)), () => undefined);
  }, 2000);
  const answered = new Map<string, number>();
  const latencies: number[] = [];
  let refused = 0;
  let next = 0;
  let last = 0;
  try {
    await new Promise<autocannon.Result>((resolve, reject) => {
      const instance = autocannon(
        {
          url: `${url}/attendance/check-in`,
          method: 'POST',
          connections: CONNECTIONS,
          amount: tokens.length,
          timeout: 10,
          requests: [
            {
              setupRequest: (request: autocannon.Request) => ({
                ...request,
                headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[next++ % tokens.length] as string}` },
                body: JSON.stringify({ session_id: sessionId, code }),
              }),
              onResponse: (status: number, body: string) => {
                const at = performance.now();
                last = at;
                const answer = JSON.parse(body) as { user_id?: string; already?: boolean };
                if (status === 200 && answer.already === false && answer.user_id !== undefined) answered.set(answer.user_id, at);
                else refused += 1;
              },
            },
          ],
        },
        (error, r) => (error ? reject(error) : resolve(r)),
      );
      instance.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
    });
  } finally {
    clearInterval(refresh);
  }
  // autocannon resolves on its next one-second tick, not at the last answer: the burst ends there.
  return { answered, latencies, refused, last };
}

export async function attendanceBurst(ctx: BenchContext): Promise<void> {
  const url = ctx.service.url;
  // Seeded user 10 is a teacher; users not divisible by 10 are students (bench/seed.ts).
  const teacher = await login(url, ctx.seed.email(10));
  const students: number[] = [];
  for (let i = 11; students.length < STUDENTS; i++) if (i % 10 !== 0 && i < ctx.seed.firstLegacy) students.push(i);
  const tokens: string[] = [];
  for (let i = 0; i < students.length; i += 8) {
    tokens.push(...(await Promise.all(students.slice(i, i + 8).map((n) => login(url, ctx.seed.email(n))))));
  }
  const course = await call(url, 'POST', '/courses', teacher, { name: 'Bench hall' });
  await call(url, 'POST', `/courses/${String(course.id)}/roster`, teacher, { students: students.map((n) => ctx.seed.email(n)) });
  const session = await call(url, 'POST', `/courses/${String(course.id)}/sessions`, teacher, {});
  const base = `/courses/${String(course.id)}/sessions/${String(session.id)}`;

  // The teacher's live list: when each student's event arrives.
  const seen = new Map<string, number>();
  const controller = new AbortController();
  const stream = await fetch(`${url}${base}/events`, { headers: { authorization: `Bearer ${teacher}` }, signal: controller.signal });
  const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let snapshot: () => void = () => {};
  const ready = new Promise<void>((resolve) => (snapshot = resolve));
  const reading = (async () => {
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        if (block.startsWith('event: snapshot')) snapshot();
        const data = /^data: (.+)$/m.exec(block)?.[1];
        if (block.startsWith('event: checkin') && data !== undefined) seen.set((JSON.parse(data) as { user_id: string }).user_id, performance.now());
      }
    }
  })();
  await ready;

  // A warm-up burst into another session of the course (not measured): the JIT and the
  // connections are warm, as every other scenario's warm-up run makes them.
  const warm = await call(url, 'POST', `/courses/${String(course.id)}/sessions`, teacher, {});
  await burst(url, teacher, `/courses/${String(course.id)}/sessions/${String(warm.id)}`, String(warm.id), tokens);

  const started = performance.now();
  const { answered, latencies, refused, last } = await burst(url, teacher, base, String(session.id), tokens);
  const elapsed = last - started;
  // The stream's last events may still be on their way.
  for (let waited = 0; seen.size < answered.size && waited < 3000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  controller.abort();
  await reading;

  const stored = ((await call(url, 'GET', `${base}/report`, teacher)).rows as { status: string | null }[]).filter((r) => r.status === 'present' || r.status === 'late').length;
  const delays = [...answered].map(([id, at]) => Math.max(0, (seen.get(id) ?? Infinity) - at)).sort((a, b) => a - b);
  const sorted = latencies.sort((a, b) => a - b);
  const rate = STUDENTS / (elapsed / 1000);
  ctx.meResult ??= await load(meLoad(ctx));
  const ratio = rate / ctx.meResult.rps;
  const p95Delay = percentile(delays, 95);
  const allIn = answered.size === STUDENTS && refused === 0 && stored === STUDENTS && elapsed <= WITHIN_MS;
  ctx.rows.push({
    scenario: 'attendance burst',
    rps: round(rate, 1),
    p50: round(percentile(sorted, 50), 1),
    p99: round(percentile(sorted, 99), 1),
    target: `${STUDENTS} in ≤ 10 s, all kept`,
    measured: `${answered.size} accepted, ${refused} refused, ${stored} stored, in ${(elapsed / 1000).toFixed(2)} s`,
    pass: allIn,
    note: '500 distinct students, one IP, 50 at a time, real HTTP',
  });
  ctx.rows.push({
    scenario: 'attendance vs /users/me',
    target: '≥ 0.5× /users/me',
    measured: `${ratio.toFixed(2)}× (${rate.toFixed(0)} vs ${ctx.meResult.rps.toFixed(0)} req/s)`,
    pass: ratio >= 0.5,
  });
  ctx.rows.push({
    scenario: 'attendance live delay',
    target: 'p95 ≤ 1000 ms',
    measured: `p50 ${percentile(delays, 50).toFixed(1)} ms, p95 ${p95Delay.toFixed(1)} ms, max ${(delays.at(-1) ?? NaN).toFixed(1)} ms (${seen.size} events)`,
    pass: p95Delay <= 1000,
  });
}
