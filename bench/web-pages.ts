/**
 * `npm run bench:web`: the web front's pages as a browser gets them from the built server (what
 * `npm start` runs), in Debian's headless Chromium on 127.0.0.1:
 * - bytes of HTML + CSS + JS per page (uncompressed) and the requests it makes; targets: the
 *   sign-in page ≤ 30 KB in all, no page over 100 KB apart from the camera decoder (loaded by the
 *   badge checker only where the browser has no BarcodeDetector), and no request to another origin;
 * - the time from navigation to the sign-in form being usable (its first field focused and
 *   typeable), against the time to load GET /health/live in the same browser, same run (medians
 *   of 15). For comparison: Keycloak's sign-in page loads the whole PatternFly 5 stylesheet.
 */
import { rmSync } from 'node:fs';
import { chromium, type Page, type Response } from 'playwright-core';
import { launchOptions } from '../test/browser/browser.js';
import { median } from './micro.js';
import { spawnService, waitFor200 } from './processes.js';
import { SEED_PASSWORD, seedDatabase } from './seed.js';

const RUNS = 15;

interface PageCost {
  path: string;
  html: number;
  css: number;
  js: number;
  other: number;
  requests: number;
  foreign: string[];
  /** The camera decoder's bytes, when the page loaded it. */
  decoder: number;
}

async function cost(page: Page, base: string, pathname: string): Promise<PageCost> {
  const result: PageCost = { path: pathname, html: 0, css: 0, js: 0, other: 0, requests: 0, foreign: [], decoder: 0 };
  const seen: Promise<void>[] = [];
  const onResponse = (response: Response) => {
    seen.push(
      (async () => {
        const url = new URL(response.url());
        result.requests += 1;
        if (url.origin !== new URL(base).origin) result.foreign.push(url.href);
        const body = await response.body().catch(() => Buffer.alloc(0));
        const type = response.headers()['content-type'] ?? '';
        if (url.pathname.includes('qr-decoder')) result.decoder += body.length;
        else if (type.startsWith('text/html')) result.html += body.length;
        else if (type.startsWith('text/css')) result.css += body.length;
        else if (type.includes('javascript')) result.js += body.length;
        else result.other += body.length;
      })(),
    );
  };
  page.on('response', onResponse);
  await page.goto(`${base}${pathname}`, { waitUntil: 'networkidle' });
  await Promise.all(seen);
  page.off('response', onResponse);
  return result;
}

async function signIn(page: Page, base: string, login: string): Promise<void> {
  await page.goto(`${base}/sign-in`);
  await page.getByLabel('Email or username').fill(login);
  await page.getByLabel('Password').fill(SEED_PASSWORD);
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith('/sign-in')), page.getByRole('button', { name: 'Sign in' }).click()]);
}

async function main(): Promise<void> {
  const seed = await seedDatabase(200);
  const service = await spawnService(seed.dir);
  const browser = await chromium.launch(launchOptions());
  try {
    await waitFor200(service, '/health/ready');
    const base = service.url;
    const anonymous = await (await browser.newContext()).newPage();
    const rows: PageCost[] = [];
    for (const pathname of ['/', '/sign-in', '/sign-up', '/forgot-password', '/check', '/sign-in/qr']) rows.push(await cost(anonymous, base, pathname));

    const student = await (await browser.newContext()).newPage();
    await signIn(student, base, seed.email(5));
    for (const pathname of ['/', '/account', '/account/sessions', '/account/2fa', '/badge/new', '/check']) rows.push(await cost(student, base, pathname));
    const admin = await (await browser.newContext()).newPage();
    await signIn(admin, base, seed.admin.email);
    for (const pathname of ['/manage/users', `/manage/users/${seed.id(5)}`, '/manage/audit']) rows.push(await cost(admin, base, pathname));

    // Time to a usable sign-in form, and to GET /health/live, in one fresh context each run.
    const formMs: number[] = [];
    const liveMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      let started = performance.now();
      await page.goto(`${base}/health/live`);
      liveMs.push(performance.now() - started);
      started = performance.now();
      await page.goto(`${base}/sign-in`, { waitUntil: 'commit' });
      // Usable: the first field has the focus and takes typing (the stylesheet has applied).
      await page.waitForFunction("document.activeElement !== null && document.activeElement.id === 'f-login' && document.readyState !== 'loading'");
      await page.keyboard.type('a');
      formMs.push(performance.now() - started);
      await context.close();
    }

    const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
    console.log('\npage                                  HTML      CSS      JS       total     requests  other origins');
    let failed = false;
    for (const r of rows) {
      const total = r.html + r.css + r.js;
      const limit = r.path === '/sign-in' ? 30 * 1024 : 100 * 1024;
      const pass = total <= limit && r.foreign.length === 0;
      failed ||= !pass;
      console.log(
        `${r.path.padEnd(36)}  ${kb(r.html).padEnd(8)}  ${kb(r.css).padEnd(7)}  ${kb(r.js).padEnd(7)}  ${kb(total).padEnd(8)}  ${String(r.requests).padEnd(8)}  ${r.foreign.length}  ${pass ? 'PASS' : 'FAIL'} (≤ ${kb(limit)})${r.decoder > 0 ? ` + camera decoder ${kb(r.decoder)}` : ''}`,
      );
    }
    const form = median(formMs);
    const live = median(liveMs);
    console.log(
      `\nsign-in form usable: median ${form.toFixed(1)} ms from navigation; GET /health/live in the same browser: ${live.toFixed(1)} ms; ` +
        `ratio ${(form / live).toFixed(1)}× (${RUNS} runs each, fresh context each run)`,
    );
    console.log(failed ? '\nFAIL: a page is over its budget or asked another origin' : '\nAll pages within their budgets, none asked another origin');
  } finally {
    await browser.close();
    await service.stop();
    rmSync(seed.dir, { recursive: true, force: true });
  }
}

await main();
