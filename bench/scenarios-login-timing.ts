/**
 * login-timing (security review, item 11): how long a WRONG password takes to be refused for an
 * unknown account, an account imported from the old service (bcrypt-12) and a migrated one
 * (argon2id). While legacy hashes remain they must take the same time, else the answer's timing
 * tells an attacker which emails exist and have not signed in since the move.
 *
 * One request at a time (no queueing), the three kinds interleaved round by round, each attempt
 * on a different account (the account lock counts per account and address). Medians compared.
 */
import { median } from './micro.js';
import type { BenchContext } from './scenarios.js';
import { LEGACY_USERS } from './seed.js';

/** The largest median may exceed the smallest by this much. */
const TOLERANCE = 1.15;

async function refusal(url: string, email: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'not-the-password-at-all' }),
  });
  await res.arrayBuffer();
  const ms = performance.now() - started;
  if (res.status !== 401) throw new Error(`login-timing: expected 401 for ${email}, got ${res.status}`);
  return ms;
}

export async function loginTiming(ctx: BenchContext): Promise<void> {
  const rounds = LEGACY_USERS;
  const times = { unknown: [] as number[], legacy: [] as number[], migrated: [] as number[] };
  // Warm-up: the dummies are made on first use.
  await refusal(ctx.service.url, 'warm-up-nobody@example.com');
  for (let i = 0; i < rounds; i++) {
    times.unknown.push(await refusal(ctx.service.url, `nobody-${i}-${Date.now()}@example.com`));
    times.legacy.push(await refusal(ctx.service.url, ctx.seed.email(ctx.seed.firstLegacy + i)));
    times.migrated.push(await refusal(ctx.service.url, ctx.seed.email(100 + i)));
  }
  const medians = { unknown: median(times.unknown), legacy: median(times.legacy), migrated: median(times.migrated) };
  const spread = Math.max(...Object.values(medians)) / Math.min(...Object.values(medians));
  const measured = Object.entries(medians)
    .map(([kind, ms]) => `${kind} ${ms.toFixed(0)} ms`)
    .join(', ');
  ctx.rows.push({
    scenario: 'login-timing (wrong password)',
    target: `medians within ${TOLERANCE.toFixed(2)}× of each other`,
    measured: `${measured}; ${spread.toFixed(2)}×`,
    pass: spread <= TOLERANCE,
  });
}
