/**
 * `node --import tsx bench/passkey-sign-in.ts`: how long a sign-in takes end to end in headless
 * Chromium, a passkey (Chromium's virtual authenticator, the "Sign in with a passkey" button)
 * against a password (typed, argon2id checked), in the same run, against the same server (its own
 * process, src/main.ts on 127.0.0.1, so the browser driver does not share its event loop): from
 * opening /sign-in to the account page shown. Runs alternate, RUNS of each after
 * a warm-up; the medians and the spread are printed. A passkey needs no argon2 (19 MiB, 2 passes):
 * one ECDSA verification and two small writes instead.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { newUserBody } from '../test/helpers/app.js';
import { launch, newContext } from '../test/browser/browser.js';
import { startServer, waitHealthy } from '../test/helpers/server-process.js';
import { addVirtualAuthenticator, withoutPasskeyAutofill } from '../test/browser/virtual-authenticator.js';
import { median } from './micro.js';

const RUNS = Number(process.env.RUNS ?? 9);

const server = await startServer();
await waitHealthy(server);
// The origin the service's development default expects (http://localhost:<port>), not 127.0.0.1.
const base = server.url.replace('127.0.0.1', 'localhost');
const browser = await launch();
try {
  const who = newUserBody();
  const res = await fetch(`${base}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(who) });
  assert.equal(res.status, 201);
  const context = await newContext(browser);
  // The button, not the autofill: the virtual authenticator would answer autofill on page load.
  await withoutPasskeyAutofill(context);
  const page = await context.newPage();
  await addVirtualAuthenticator(context, page);

  const password = async () => {
    await page.goto(`${base}/sign-in?next=%2Faccount`);
    await page.getByLabel('Email or username').fill(who.email);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
  };
  const passkey = async () => {
    await page.goto(`${base}/sign-in?next=%2Faccount`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
  };

  await password();
  await page.goto(`${base}/account/passkeys`);
  await page.getByLabel('Name').fill('Bench');
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.getByText('Your passkey is added').waitFor();

  const times: Record<'password' | 'passkey', number[]> = { password: [], passkey: [] };
  for (let i = -1; i < RUNS; i += 1) {
    for (const [name, run] of [['password', password], ['passkey', passkey]] as const) {
      await context.clearCookies();
      const start = performance.now();
      await run();
      const ms = performance.now() - start;
      if (i >= 0) times[name].push(ms);
    }
  }
  const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
  console.log(`sign-in end to end, headless Chromium, ${RUNS} runs each, alternating:`);
  console.log(`  password: ${fmt(times.password)}`);
  console.log(`  passkey:  ${fmt(times.passkey)}`);
  console.log(`  passkey / password: ${(median(times.passkey) / median(times.password)).toFixed(2)}`);
} finally {
  await browser.close();
  server.child.kill('SIGTERM');
  await server.exited;
}
