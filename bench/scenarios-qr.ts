/** The QR scenarios: renderers in-process beside node-qrcode, and GET /qr/{id}/image over HTTP. */
import { legacyPayload } from '../src/qr/payload.js';
import { load } from './http.js';
import { comparePng, compareSvg } from './micro.js';
import { decodePngText } from './qr-check.js';
import { againstBaseline, type BenchContext, cpuNote, CONNECTIONS, login, round, pairedRatio, row, times } from './scenarios.js';

/** Logs in the QR user and generates its code (the image endpoint serves generated codes only). */
async function qrUser(ctx: BenchContext): Promise<{ id: string; token: string; payload: string } | null> {
  const i = ctx.meUser + 1;
  const token = await login(ctx.service.url, ctx.seed.email(i));
  const id = ctx.seed.id(i);
  const generated = await fetch(`${ctx.service.url}/qr/generate`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  const probe = await fetch(`${ctx.service.url}/qr/${id}/image?format=png`, { headers: { authorization: `Bearer ${token}` } });
  if (generated.status !== 200 || probe.status !== 200) {
    ctx.notes.push(`qr: POST /qr/generate ${generated.status}, GET /qr/{id}/image ${probe.status}: HTTP QR scenarios skipped`);
    return null;
  }
  const role = i % 10 === 0 ? 'teacher' : 'student';
  return { id, token, payload: legacyPayload({ id, email: ctx.seed.email(i), role }) };
}

/** size × margin combinations, more than the render cache's 1000 entries: cycling them misses every time. */
function missingQueries(format: 'png' | 'svg'): () => string {
  const combos: string[] = [];
  for (let margin = 0; margin <= 15; margin++) for (let size = 440; size < 520; size++) combos.push(`format=${format}&size=${size}&margin=${margin}`);
  let n = 0;
  return () => combos[n++ % combos.length] as string;
}

export async function qrPng(ctx: BenchContext): Promise<void> {
  const user = await qrUser(ctx);
  const payload = user?.payload ?? legacyPayload({ id: ctx.seed.id(1), email: ctx.seed.email(1), role: 'student' });
  // The HTTP runs first: the in-process renderers below leave this process (the load generator)
  // with a heap full of node-qrcode's garbage, which slowed autocannon in the runs after them.
  const http = user === null ? null : await qrPngHttp(ctx, user);
  const cmp = await comparePng(payload);
  ctx.rows.push(
    { scenario: 'node-qrcode toBuffer (in-process)', rps: round(cmp.nodeQrcode, 1), note: 'scale 10, margin 5' },
    {
      scenario: 'renderPng (in-process)',
      rps: round(cmp.ours, 1),
      target: '≥ 10× toBuffer',
      measured: times(cmp.ours / cmp.nodeQrcode),
      pass: cmp.ours >= 10 * cmp.nodeQrcode,
    },
  );
  if (http === null) return;
  const vsToBuffer = http.uncached.rps / cmp.nodeQrcode;
  row(ctx, 'qr-png uncached', http.uncached, {
    target: '≥ 800/s and ≥ 10× toBuffer',
    measured: `${times(vsToBuffer)} toBuffer`,
    pass: http.uncached.rps >= 800 && vsToBuffer >= 10,
  });
  row(ctx, 'qr-png cached', http.cached.result, {
    vsBaseline: round(http.cached.ratio, 3),
    target: '≥ 0.80× baseline',
    measured: `${pairedRatio(http.cached.ratio, http.cached.ratios)}; ${cpuNote(http.cached)}`,
    pass: http.cached.ratio >= 0.8,
  });
  const ok = http.decoded.every((text) => text === user?.payload);
  ctx.rows.push({ scenario: 'qr-png decodes', target: 'scans to the exact payload', measured: ok ? 'yes (2 of 2)' : `no: ${JSON.stringify(http.decoded)}`, pass: ok });
}

/** GET /qr/{id}/image over HTTP: cache misses, cache hits beside the baseline, and two images decoded. */
async function qrPngHttp(ctx: BenchContext, user: { id: string; token: string }) {
  const auth = { authorization: `Bearer ${user.token}` };
  const imagePath = `/qr/${user.id}/image`;
  const query = missingQueries('png');
  const uncached = await load({
    url: `${ctx.service.url}${imagePath}`,
    headers: auth,
    connections: CONNECTIONS,
    seconds: ctx.seconds,
    next: () => ({ path: `${imagePath}?${query()}` }),
  });
  const cached = await againstBaseline(ctx, { url: `${ctx.service.url}${imagePath}?format=png`, headers: auth, connections: CONNECTIONS, seconds: ctx.seconds });
  const decoded = await Promise.all(
    [`${imagePath}?format=png`, `${imagePath}?format=png&size=471&margin=4`].map(async (p) => {
      const res = await fetch(`${ctx.service.url}${p}`, { headers: auth });
      return decodePngText(Buffer.from(await res.arrayBuffer()));
    }),
  );
  return { uncached, cached, decoded };
}

export async function qrSvg(ctx: BenchContext): Promise<void> {
  const user = await qrUser(ctx);
  const payload = user?.payload ?? legacyPayload({ id: ctx.seed.id(1), email: ctx.seed.email(1), role: 'student' });
  const cmp = await compareSvg(payload);
  ctx.rows.push(
    { scenario: 'node-qrcode SVG (in-process)', rps: round(cmp.nodeQrcode, 1) },
    { scenario: 'renderSvg (in-process)', rps: round(cmp.ours, 1), measured: `${times(cmp.ours / cmp.nodeQrcode)} node-qrcode` },
  );
  if (user === null) return;
  const imagePath = `/qr/${user.id}/image`;
  const query = missingQueries('svg');
  const r = await load({
    url: `${ctx.service.url}${imagePath}`,
    headers: { authorization: `Bearer ${user.token}` },
    connections: CONNECTIONS,
    seconds: ctx.seconds,
    next: () => ({ path: `${imagePath}?${query()}` }),
  });
  row(ctx, 'qr-svg uncached', r);
}

/**
 * POST /qr/generate over HTTP, 10 connections, one user (as issue 17 part 3 measured it): a
 * badge signed, its PNG drawn (a new issue time each time: never a cache hit) and written to the
 * user's row. Target ≥ 800/s on SQLite (10× the old service's 78/s). With the rate limits lifted
 * the user's issue time runs ahead of the clock (each generate is strictly later than the one
 * before, in whole seconds); the per-user limit (60 a minute) bounds that in real use.
 */
export async function qrGenerate(ctx: BenchContext): Promise<void> {
  const token = await login(ctx.service.url, ctx.seed.email(ctx.meUser + 3));
  const r = await load({ url: `${ctx.service.url}/qr/generate`, method: 'POST', body: '{}', headers: { authorization: `Bearer ${token}` }, connections: 10, seconds: ctx.seconds, warmupSeconds: 1 });
  row(ctx, 'qr-generate', r, { target: '≥ 800/s', measured: `${r.rps.toFixed(0)}/s, 10 connections, one user`, pass: r.rps >= 800 });
}
