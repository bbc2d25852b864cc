/**
 * Journeys with a badge, in a real browser: make it on /badge, download it as PNG and SVG (each
 * decoded by an independent decoder), print its card (one A4 page); then check it with the
 * camera on /check — Chromium's fake camera plays a video made here from the downloaded PNG, so
 * the page's real getUserMedia path and in-browser decoding run — and see a superseded or changed
 * badge refused, through the camera, the text field and the photo upload.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import type { Cookie, Page, Response } from 'playwright-core';
import { newUserBody, register } from '../helpers/app.js';
import { decodePng, decodeSvg } from '../helpers/qr-decode.js';
import { browserSkip, launch, newContext, screenshots, startWebServer, visit, type WebServer } from './browser.js';

/**
 * A Y4M video (what Chromium's --use-file-for-fake-video-capture plays, looping) of a PNG centred
 * on a white frame: 4:2:0 planes, luma from the RGB (BT.601), neutral chroma (the code is grey).
 */
function y4mOf(png: Buffer, width = 960, height = 720, frames = 3): Buffer {
  const image = PNG.sync.read(png);
  assert.ok(image.width <= width && image.height <= height, 'the code fits the frame');
  const luma = Buffer.alloc(width * height, 255);
  const left = Math.floor((width - image.width) / 2);
  const top = Math.floor((height - image.height) / 2);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const i = (y * image.width + x) * 4;
      const alpha = (image.data[i + 3] as number) / 255;
      const grey = 0.299 * (image.data[i] as number) + 0.587 * (image.data[i + 1] as number) + 0.114 * (image.data[i + 2] as number);
      luma[(top + y) * width + left + x] = Math.round(grey * alpha + 255 * (1 - alpha));
    }
  }
  const chroma = Buffer.alloc((width / 2) * (height / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), luma, chroma]);
  return Buffer.concat([Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`), ...Array.from({ length: frames }, () => frame)]);
}

const FAKE_CAMERA = (file: string) => ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${file}`];

/** Bytes of this origin's responses (HTML, CSS, JS) while `work` runs, by path. */
async function bytesDuring(page: Page, origin: string, work: () => Promise<void>): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  const pending: Promise<void>[] = [];
  const onResponse = (response: Response) => {
    const url = new URL(response.url());
    if (url.origin !== origin || response.request().method() !== 'GET') return;
    pending.push(
      response.body().then(
        (body) => void sizes.set(url.pathname, body.length),
        () => undefined,
      ),
    );
  };
  page.on('response', onResponse);
  try {
    await work();
  } finally {
    page.off('response', onResponse);
  }
  await Promise.all(pending);
  return sizes;
}

/** The one-page check: a PDF of A4 pages, as Chromium prints the page. */
async function printedPages(page: Page): Promise<number> {
  const pdf = (await page.pdf({ format: 'A4', preferCSSPageSize: true, printBackground: true })).toString('latin1');
  const counts = [...pdf.matchAll(/\/Type\s*\/Pages\b[^>]*?\/Count\s+(\d+)|\/Count\s+(\d+)[^>]*?\/Type\s*\/Pages\b/g)].map((m) => Number(m[1] ?? m[2]));
  assert.ok(counts.length > 0, 'a page tree in the PDF');
  return Math.max(...counts);
}

describe('a badge: made, downloaded, printed, then checked by camera', { skip: browserSkip }, () => {
  let server: WebServer;
  let workDir: string;
  const who = newUserBody();
  /** Carried from the first journey to the second. */
  const state: { cookies: Cookie[]; png: Buffer | null; text: string } = { cookies: [], png: null, text: '' };

  before(async () => {
    server = await startWebServer();
    workDir = mkdtempSync(path.join(os.tmpdir(), 'badge-camera-'));
    assert.equal((await register(server.t.app, who)).statusCode, 201);
  });
  after(async () => {
    await server?.close();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('makes the badge, downloads it as PNG and SVG, and prints its card on one A4 page', async () => {
    const browser = await launch();
    try {
      const context = await newContext(browser);
      const page = await context.newPage();
      await page.goto(`${server.base}/badge`);
      // Signed out: the sign-in page, coming back to the badge.
      await page.getByLabel('Email or username').fill(who.username);
      await page.getByLabel('Password').fill(who.password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'My badge' }).waitFor();
      assert.ok(await page.getByText('You have no badge yet.').isVisible());
      await visit(page, 'badge-none');

      await page.getByRole('button', { name: 'Make my badge' }).click();
      await page.getByText('Your badge is ready.').waitFor();
      const qr = page.getByRole('img', { name: `QR code of the badge of ${who.full_name}` });
      assert.ok(await qr.isVisible(), 'the code, with a text alternative');
      // Large: at least 20 rem wide on a laptop (the phone's width on a phone).
      assert.ok(((await qr.boundingBox())?.width ?? 0) >= 320, 'a large code');
      await visit(page, 'badge');
      await page.getByText("The badge's text").click();
      const text = (await page.locator('.badge-text').innerText()).trim();
      assert.match(text, /^USER:[0-9a-f]{24}\|/);

      const download = async (name: string) => {
        const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name }).click()]);
        return { name: file.suggestedFilename(), body: readFileSync(await file.path()) };
      };
      const png = await download('Download PNG');
      assert.equal(png.name, `badge-${who.username}.png`);
      assert.equal(decodePng(png.body).text, text);
      const svg = await download('Download SVG');
      assert.equal(svg.name, `badge-${who.username}.svg`);
      assert.equal(decodeSvg(svg.body.toString('utf8')).text, text);

      await page.getByRole('link', { name: 'Print a badge card' }).click();
      await page.getByRole('heading', { name: 'Print your badge card' }).waitFor();
      assert.ok(await page.getByRole('button', { name: 'Print' }).isVisible(), 'the print button, with script');
      assert.ok(await page.getByRole('heading', { name: who.full_name }).isVisible());
      await visit(page, 'badge-print');
      await page.emulateMedia({ media: 'print' });
      await screenshots(page, 'badge-print-media');
      assert.equal(await page.getByRole('heading', { name: 'Print your badge card' }).isVisible(), false, 'only the card is printed');
      assert.equal(await printedPages(page), 1, 'one A4 page');
      await page.emulateMedia({ media: 'screen' });

      state.cookies = await context.cookies();
      state.png = png.body;
      state.text = text;
      await context.close();
    } finally {
      await browser.close();
    }
  });

  it('checks the badge through the camera (VALID), then, once replaced, refuses the old one by camera, text and photo', async () => {
    assert.ok(state.png, 'the first journey downloaded the badge');
    const video = path.join(workDir, 'badge.y4m');
    writeFileSync(video, y4mOf(state.png));
    const browser = await launch(FAKE_CAMERA(video));
    try {
      const context = await newContext(browser, 'phone');
      await context.addCookies(state.cookies);
      const page = await context.newPage();

      const loaded = await bytesDuring(page, server.base, async () => {
        await page.goto(`${server.base}/check`);
        await page.getByRole('heading', { name: 'Use the camera' }).waitFor();
      });
      assert.ok(![...loaded.keys()].some((p) => p.includes('qr-decoder')), 'the decoder is not loaded with the page');
      await visit(page, 'check');

      const camera = await bytesDuring(page, server.base, async () => {
        await page.getByRole('button', { name: 'Start the camera' }).click();
        await page.getByRole('heading', { name: 'VALID', exact: true }).waitFor();
      });
      const verdict = page.locator('#verdict');
      assert.match(await verdict.innerText(), new RegExp(`Name\\s+${who.username}`));
      assert.match(await verdict.innerText(), /Role\s+Student/);
      assert.equal(await page.locator('#camera-video').isVisible(), false, 'the camera is off after a read');
      const using = await page.locator('#camera-check').getAttribute('data-using');
      await visit(page, 'check-valid-camera');

      // What the checker costs: the page, its stylesheet and island; the JS decoder only when used.
      const sum = (sizes: Map<string, number>) => [...sizes.values()].reduce((a, b) => a + b, 0);
      const decoder = [...camera].filter(([p]) => p.includes('qr-decoder'));
      console.log(
        `/check: ${sum(loaded)} bytes (${[...loaded].map(([p, n]) => `${p.replace(/-[\w-]{10}\./, '.')} ${n}`).join(', ')}); ` +
          `camera decoder (${using}): ${sum(new Map(decoder))} bytes; with it ${sum(loaded) + sum(new Map(decoder))}`,
      );
      assert.ok(sum(loaded) < 100 * 1024, 'the checker page itself stays under 100 KB');
      if (using === 'jsqr') assert.equal(decoder.length, 1, 'the JS decoder fetched once it was needed');

      // A new badge supersedes the old: the page says so before it is made.
      await page.goto(`${server.base}/badge`);
      await page.getByRole('link', { name: 'Make a new badge' }).click();
      await page.getByRole('heading', { name: 'Make a new badge?' }).waitFor();
      assert.ok(await page.getByText('Your current badge stops working at once.').isVisible());
      await visit(page, 'badge-new');
      await page.getByRole('button', { name: 'Make a new badge' }).click();
      await page.getByText('Your new badge is ready.').waitFor();

      // The camera still shows the old badge: refused, with the reason in words.
      await page.goto(`${server.base}/check`);
      await page.getByRole('button', { name: 'Start the camera' }).click();
      await page.getByRole('heading', { name: 'NOT VALID', exact: true }).waitFor();
      assert.match(await verdict.innerText(), /A newer badge replaced it/);
      assert.match(await verdict.innerText(), new RegExp(`Name\\s+${who.username}`));
      await visit(page, 'check-superseded-camera');

      // The text field, without the camera: the old text, then a changed one.
      await page.getByRole('textbox', { name: "The badge's text" }).fill(state.text);
      await page.getByRole('button', { name: 'Check the text' }).click();
      await page.getByRole('heading', { name: 'NOT VALID', exact: true }).waitFor();
      assert.match(await page.title(), /^Not valid/);
      assert.match(await verdict.innerText(), /A newer badge replaced it/);
      await visit(page, 'check-superseded-text');
      const forged = state.text.replace('ROLE:student', 'ROLE:teacher');
      await page.getByRole('textbox', { name: "The badge's text" }).fill(forged);
      await page.getByRole('button', { name: 'Check the text' }).click();
      await page.getByText('It was changed after it was made').waitFor();

      // A photo of the old badge.
      await page.getByLabel('Photo of the badge').setInputFiles({ name: 'old-badge.png', mimeType: 'image/png', buffer: state.png });
      await page.getByRole('button', { name: 'Check the photo' }).click();
      await page.getByText('A newer badge replaced it').waitFor();
      assert.equal(await page.locator('.verdict').getAttribute('data-reason'), 'superseded');
      await visit(page, 'check-superseded-photo');

      // A file that is no photo: the problem, tied to the field.
      await page.getByLabel('Photo of the badge').setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not a picture') });
      await page.getByRole('button', { name: 'Check the photo' }).click();
      await page.getByRole('heading', { name: 'There is a problem' }).waitFor();
      assert.equal(await page.getByLabel('Photo of the badge').getAttribute('aria-invalid'), 'true');
      assert.match(await page.title(), /^Error: Check a badge/);
      await visit(page, 'check-photo-error');
      await context.close();
    } finally {
      await browser.close();
    }
  });

});
