/**
 * The browser suite's harness: Debian's Chromium (/usr/bin/chromium) driven by playwright-core
 * (no browser download: `npx playwright install` cannot work here), against the whole service on
 * a real socket. Each journey checks every page it visits with axe-core (WCAG 2.1 A and AA, in the
 * light and the dark scheme) and takes its screenshots at a phone's and a laptop's width into
 * test-results/screenshots (scripts/screenshots.mjs copies the README's into docs/screenshots).
 *
 * Without Chromium the suite is skipped, and says so (`npm test` prints it, like the databases).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type LaunchOptions, type Page } from 'playwright-core';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { REPO_ROOT } from '../helpers/server-process.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** The `skip` option of a browser suite: false when Chromium is here, else the reason. */
export const browserSkip = existsSync(CHROMIUM) ? false : `Chromium: skipped (${CHROMIUM} not found; apt-get install chromium)`;
if (browserSkip) console.log(browserSkip);

export const SCREENSHOTS = path.join(REPO_ROOT, 'test-results', 'screenshots');

export const VIEWPORTS = {
  phone: { width: 390, height: 844 },
  desktop: { width: 1280, height: 860 },
} as const;

/**
 * Chromium as the machine's probe ran it: headless, no sandbox (root in CI), and nothing that
 * reaches for Google's servers (the network here is closed; each attempt would only slow it).
 */
export function launchOptions(extraArgs: string[] = []): LaunchOptions {
  return {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      ...extraArgs,
    ],
  };
}

export interface WebServer {
  t: TestApp;
  /** http://localhost:<port>: the origin the pages and the links in mails use. */
  base: string;
  close(): Promise<void>;
}

/** The whole service on 127.0.0.1, a fresh database, no PUBLIC_URL (links point at localhost). */
export async function startWebServer(env: Record<string, string> = {}): Promise<WebServer> {
  const t = await buildTestApp(env);
  const listening = await t.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://localhost:${new URL(listening).port}`;
  return { t, base, close: () => t.close() };
}

export async function launch(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch(launchOptions(extraArgs));
}

export async function newContext(browser: Browser, viewport: keyof typeof VIEWPORTS = 'desktop'): Promise<BrowserContext> {
  return browser.newContext({ viewport: VIEWPORTS[viewport], locale: 'en-GB' });
}

const AXE_SOURCE = readFileSync(path.join(REPO_ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[]; failureSummary?: string }[];
}

/**
 * Runs axe-core on the page, WCAG 2.1 A and AA rules, in the light and the dark colour scheme,
 * and fails with what it found. Injected through the DevTools protocol, not a <script> tag: the
 * pages' Content-Security-Policy (rightly) refuses inline scripts.
 */
export async function assertAccessible(page: Page, label = page.url()): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const violations = (await page.evaluate(`(async () => {
      if (typeof window.axe === 'undefined') { ${AXE_SOURCE} }
      const result = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
      return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) }));
    })()`)) as AxeViolation[];
    assert.deepEqual(
      violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`),
      [],
      `${label} (${colorScheme}): WCAG 2.1 A/AA violations`,
    );
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

/**
 * Screenshots of the page at a phone's and a laptop's width (the whole page), as
 * test-results/screenshots/<name>-phone.png and -desktop.png. The viewport is restored after.
 */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const before = page.viewportSize();
  for (const [kind, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${kind}.png`), fullPage: true });
  }
  if (before !== null) await page.setViewportSize(before);
}

/** A page checked for accessibility and photographed: what every journey does at each stop. */
export async function visit(page: Page, name: string): Promise<void> {
  await assertAccessible(page, name);
  await screenshots(page, name);
}
