#!/usr/bin/env node
/**
 * `npm run screenshots`: refreshes the pictures of the web pages that README.md and docs/web.md
 * show (docs/screenshots/), from the screenshots the browser tests take (test-results/screenshots/,
 * phone 390 px and desktop 1280 px wide). Run the browser tests first (`npm run test:browser`,
 * which `npm run screenshots` does); this only copies the chosen few and says what it wrote.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FROM = path.join(ROOT, 'test-results', 'screenshots');
const TO = path.join(ROOT, 'docs', 'screenshots');

/** The pages the documentation shows, by the name the browser tests give their screenshot. */
const CHOSEN = [
  'sign-in-desktop.png',
  'sign-in-phone.png',
  'account-phone.png',
  'badge-phone.png',
  'check-valid-camera-phone.png',
  'qr-login-tv-desktop.png',
  'qr-login-approve-phone.png',
  'manage-user-desktop.png',
  'attendance-projector-desktop.png',
  'attendance-live-desktop.png',
  'attendance-checked-in-phone.png',
  'attendance-sign-in-to-check-in-phone.png',
  'passkeys-list-phone.png',
  'oidc-consent-desktop.png',
  'oidc-consent-phone.png',
];

const missing = CHOSEN.filter((name) => !existsSync(path.join(FROM, name)));
if (missing.length > 0) {
  console.error(`screenshots: ${missing.join(', ')} not in ${path.relative(ROOT, FROM)}/; run npm run test:browser first (it needs Chromium at /usr/bin/chromium)`);
  process.exit(1);
}
mkdirSync(TO, { recursive: true });
for (const stale of readdirSync(TO)) if (!CHOSEN.includes(stale)) rmSync(path.join(TO, stale));
let total = 0;
for (const name of CHOSEN) {
  copyFileSync(path.join(FROM, name), path.join(TO, name));
  total += statSync(path.join(TO, name)).size;
}
console.log(`screenshots: ${CHOSEN.length} pictures, ${(total / 1024).toFixed(0)} KiB, in ${path.relative(ROOT, TO)}/`);
