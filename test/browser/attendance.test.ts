/**
 * Classroom attendance in a real browser (Chromium): a teacher runs a session and opens the
 * projector; the test reads the QR from the projector's screenshot (decoded independently, with
 * jsQR); two students open the link and the teacher's live list shows both within a second; a
 * link read earlier is refused two periods later (the server's clock moved, not slept); a
 * signed-out student scans, signs in and is marked as of the scan; the CSV downloads with them.
 * Then the badge scanner through Chromium's fake camera, offline: two badges read and queued,
 * sent when the network is back. axe-core finds no WCAG 2.1 A/AA violation on any page.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { newUserBody } from '../helpers/app.js';
import { decodePng } from '../helpers/qr-decode.js';
import { browserSkip, launch, newContext, startWebServer, visit, type WebServer } from './browser.js';

/** A Y4M video of the PNGs in turn, each for `frames` frames at 10 fps, centred on white. */
function y4mOf(pngs: Buffer[], width = 960, height = 720, frames = 15): Buffer {
  const chroma = Buffer.alloc((width / 2) * (height / 2) * 2, 128);
  const parts: Buffer[] = [Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`)];
  for (const png of pngs) {
    const image = PNG.sync.read(png);
    const luma = Buffer.alloc(width * height, 255);
    const left = Math.floor((width - image.width) / 2);
    const top = Math.floor((height - image.height) / 2);
    for (let y = 0; y < image.height; y++) {
      for (let x = 0; x < image.width; x++) {
        const i = (y * image.width + x) * 4;
        const grey = 0.299 * (image.data[i] as number) + 0.587 * (image.data[i + 1] as number) + 0.114 * (image.data[i + 2] as number);
        luma[(top + y) * width + left + x] = Math.round(grey);
      }
    }
    const frame = Buffer.concat([Buffer.from('FRAME\n'), luma, chroma]);
    for (let f = 0; f < frames; f++) parts.push(frame);
  }
  return Buffer.concat(parts);
}

async function signIn(page: Page, login: string, password: string) {
  await page.getByLabel('Email or username').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

describe('classroom attendance in a browser', { skip: browserSkip }, () => {
  let server: WebServer;
  let workDir: string;
  const people: Record<string, ReturnType<typeof newUserBody>> = {};
  let sessionUrl = '';

  async function make(name: string, role: 'student' | 'teacher', fullName: string) {
    const body = newUserBody({ full_name: fullName });
    await server.t.users.createWithRole({ ...body, fullName, role });
    people[name] = body;
    return body;
  }

  before(async () => {
    server = await startWebServer();
    workDir = mkdtempSync(path.join(os.tmpdir(), 'attendance-browser-'));
    await make('teacher', 'teacher', 'Ms Teacher');
    await make('ana', 'student', 'Ana Ångström');
    await make('boris', 'student', 'Борис Петров');
    await make('chen', 'student', '陈晨');
    await make('dora', 'student', 'Dora Late');
  });
  after(async () => {
    await server?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('runs a session: projector QR, two students live within a second, an old link refused, a scan kept across the sign-in, the CSV', async () => {
    const browser = await launch();
    try {
      const teacherContext = await newContext(browser);
      const page = await teacherContext.newPage();
      const teacher = people.teacher!;
      await page.goto(`${server.base}/teach`);
      await signIn(page, teacher.username, teacher.password);
      await page.getByRole('heading', { name: 'Courses' }).waitFor();
      await page.getByLabel('Name', { exact: true }).fill('Physics 101');
      await page.getByRole('button', { name: 'Create the course' }).click();
      await page.getByRole('heading', { name: /Physics 101/ }).waitFor();
      // Two students from a CSV file read into the box (the file chooser's island), two pasted.
      const chooser = page.getByLabel('Or read a CSV file into the box');
      await chooser.setInputFiles({ name: 'too-big.csv', mimeType: 'text/csv', buffer: Buffer.alloc(300 * 1024, 'a') });
      await page.getByText('"too-big.csv" is larger than 256 KiB').waitFor();
      const rosterCsv = `email,name\r\n${['ana', 'boris'].map((n) => `${people[n]!.email},${n}`).join('\r\n')}\r\n`;
      await chooser.setInputFiles({ name: 'roster.csv', mimeType: 'text/csv', buffer: Buffer.from(rosterCsv) });
      await page.getByText('"roster.csv" read: 3 lines in the box above.').waitFor();
      assert.equal(await page.getByLabel('Add students').inputValue(), rosterCsv.replaceAll('\r\n', '\n'), 'the file, in the box (a textarea value has LF line ends)');
      await page.getByRole('button', { name: 'Add to the roster' }).click();
      await page.getByText('Added 2 to the roster.').waitFor();
      await page.getByLabel('Add students').fill(['chen', 'dora'].map((n) => people[n]!.email).join('\n'));
      await page.getByRole('button', { name: 'Add to the roster' }).click();
      await page.getByText('Added 2 to the roster.').waitFor();
      await visit(page, 'attendance-course');
      await page.getByLabel('Session name').fill('Monday lecture');
      await page.getByRole('button', { name: 'Start a session now' }).click();
      await page.getByRole('heading', { name: 'Monday lecture' }).waitFor();
      sessionUrl = new URL(page.url()).pathname;
      await page.getByText('Live: new check-ins appear here by themselves.').waitFor();

      const projector = await teacherContext.newPage();
      await projector.goto(`${server.base}${sessionUrl}/projector`);
      const qr = projector.getByRole('img', { name: /QR code to check in/ });
      await qr.waitFor();
      await visit(projector, 'attendance-projector');
      const link = decodePng(await qr.screenshot()).text;
      assert.match(link, new RegExp(`^${server.base}/attend/[0-9a-f]{24}\\?c=[A-Za-z0-9_-]{12}$`));

      // Two students, each on their own phone, signed in: the teacher's list shows both within a second.
      for (const name of ['ana', 'boris']) {
        const context = await newContext(browser, 'phone');
        const phone = await context.newPage();
        await phone.goto(`${server.base}/sign-in`);
        await signIn(phone, people[name]!.username, people[name]!.password);
        await phone.getByRole('heading', { name: /^Hello/ }).waitFor();
        const opened = Date.now();
        await phone.goto(link);
        await phone.getByRole('heading', { name: 'Present' }).waitFor();
        await page.locator('#live-list tbody tr', { hasText: people[name]!.username }).waitFor({ timeout: 1000 });
        assert.ok(Date.now() - opened < 3000);
        if (name === 'ana') await visit(phone, 'attendance-checked-in');
        await context.close();
      }
      assert.equal(await page.locator('#live-count').innerText(), '2');
      await visit(page, 'attendance-live');

      // Two periods later (the server's clock moved), the link read earlier is refused.
      server.t.advance(20_500);
      const late = await newContext(browser, 'phone');
      const latePage = await late.newPage();
      await latePage.goto(`${server.base}/sign-in`);
      await signIn(latePage, people.dora!.username, people.dora!.password);
      await latePage.getByRole('heading', { name: /^Hello/ }).waitFor();
      const refused = await latePage.goto(link);
      assert.equal(refused?.status(), 400);
      await latePage.getByText('This code has expired').waitFor();
      await late.close();

      // Signed out: the scan is kept, the student signs in, and is checked in as of the scan.
      // A refreshed projector shows the code of the server's step now.
      await projector.reload();
      await qr.waitFor();
      const fresh = decodePng(await qr.screenshot()).text;
      assert.notEqual(fresh, link);
      const chenContext = await newContext(browser, 'phone');
      const chen = await chenContext.newPage();
      await chen.goto(fresh);
      await chen.getByRole('heading', { name: 'Sign in to check in' }).waitFor();
      const scannedAt = await chen.locator('time').getAttribute('datetime');
      await visit(chen, 'attendance-sign-in-to-check-in');
      await chen.getByRole('main').getByRole('link', { name: 'Sign in', exact: true }).click();
      await signIn(chen, people.chen!.username, people.chen!.password);
      await chen.getByRole('heading', { name: 'Present' }).waitFor();
      assert.equal(await chen.locator('main time').getAttribute('datetime'), scannedAt);
      await chenContext.close();
      await page.locator('#live-list tbody tr', { hasText: people.chen!.username }).waitFor({ timeout: 1000 });

      const downloading = page.waitForEvent('download');
      await page.getByRole('link', { name: 'Download CSV' }).click();
      const file = await (await downloading).path();
      const csv = readFileSync(file as string);
      assert.deepEqual([...csv.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
      const text = csv.toString('utf8');
      for (const name of ['ana', 'boris', 'chen']) assert.match(text, new RegExp(`${people[name]!.username},[^\\r\\n]*,present,`));
      assert.match(text, /Борис Петров/);
      await projector.close();
      await teacherContext.close();
    } finally {
      await browser.close();
    }
  });

  it('scans two badges with the fake camera while offline, and syncs them when the network is back', async () => {
    assert.ok(sessionUrl, 'the first journey started a session');
    const t = server.t;
    const pngs: Buffer[] = [];
    for (const name of ['dora', 'ana']) {
      const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: people[name]!.email, password: people[name]!.password } });
      const token = login.json().access_token as string;
      const badge = await t.app.inject({ method: 'POST', url: '/qr/generate', headers: { authorization: `Bearer ${token}` } });
      pngs.push(Buffer.from(badge.json().qr_code_base64 as string, 'base64'));
    }
    const video = path.join(workDir, 'badges.y4m');
    writeFileSync(video, y4mOf(pngs));
    const browser = await launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${video}`]);
    try {
      const context = await newContext(browser, 'phone');
      const page = await context.newPage();
      await page.goto(`${server.base}${sessionUrl}/scan`);
      await signIn(page, people.teacher!.username, people.teacher!.password);
      await page.getByRole('heading', { name: 'Scan badges' }).waitFor();
      await page.getByText('Ready. Start the camera to scan badges.').waitFor();
      await visit(page, 'attendance-scan');
      await context.setOffline(true);
      await page.getByText('offline: scans are kept on this device').waitFor();
      await page.getByRole('button', { name: 'Start the camera' }).click();
      await page.locator('#scan-queued', { hasText: '2' }).waitFor({ timeout: 15_000 });
      assert.equal(await page.locator('#scan-results li').count(), 0, 'nothing sent while offline');
      await context.setOffline(false);
      await page.locator('#scan-results li', { hasText: 'already checked in' }).waitFor({ timeout: 15_000 });
      await page.locator('#scan-results li', { hasText: `${people.dora!.full_name}: checked in` }).waitFor({ timeout: 15_000 });
      await page.locator('#scan-queued', { hasText: '0' }).waitFor();
      await page.getByRole('button', { name: 'Stop the camera' }).click();
      await visit(page, 'attendance-scan-synced');
      const sessionId = sessionUrl.split('/').at(-1) as string;
      const dora = await t.users.findByLogin(people.dora!.username);
      const checkin = await t.store.attendance.findCheckin(sessionId, dora?.id ?? '');
      assert.equal(checkin?.method, 'badge');
      await context.close();
    } finally {
      await browser.close();
    }
  });
});
