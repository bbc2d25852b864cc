/**
 * /badge, the signed-in user's badge: the QR large enough to scan from a phone at arm's length,
 * downloads as PNG and SVG, a printable card (/badge/print), and making a badge (the first, or a
 * new one that supersedes the old: asked first, on /badge/new).
 *
 * The same service as POST /qr/generate and GET /qr/{id}/image (qr/qr-service.ts), with the same
 * per-user limit on generating (http/rate-limits.ts: 'qr-scan-user'); the badge's state is what
 * POST /qr/verify would answer for it.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { BadgeVerdict, BadgeVerifier } from '../../qr/badge-verifier.js';
import type { ImageOptions } from '../../qr-render/qr-images.js';
import type { QrService } from '../../qr/qr-service.js';
import type { User } from '../../store/store.js';
import { dateWords, reasonWords, roleWords } from '../badge-words.js';
import { csrfInput, notice, textField } from '../forms.js';
import { html, raw, type SafeHtml } from '../html.js';
import { errorMain, type WebKit } from '../web-kit.js';

export interface BadgeDeps {
  kit: WebKit;
  qr: QrService;
  verifier: BadgeVerifier;
}

/** A 4-module quiet zone (the QR standard's), error correction M as the API's default. */
const IMAGE: Omit<ImageOptions, 'format'> = { margin: 4, ecc: 'M' };

interface CurrentBadge {
  data: string;
  /** The service's own drawing (no user text in it): safe to place in the page as it is. */
  svg: string;
  verdict: BadgeVerdict;
}

const displayName = (user: User) => user.fullName ?? user.username;

export function badgePages(deps: BadgeDeps) {
  const { kit, qr, verifier } = deps;

  async function currentBadge(user: User): Promise<CurrentBadge | null> {
    if (user.qrCode === null) return null;
    const { data } = await qr.get(user, user.id);
    const image = await qr.image(user, user.id, { ...IMAGE, format: 'svg' });
    return { data, svg: String(image.body), verdict: await verifier.verify(data) };
  }

  function qrFigure(user: User, badge: CurrentBadge): SafeHtml {
    return html`<div class="badge-qr" role="img" aria-label="${`QR code of the badge of ${displayName(user)}`}">${raw(badge.svg)}</div>`;
  }

  function noBadge(request: FastifyRequest, reply: FastifyReply) {
    const main = html`<h1>My badge</h1>
<p class="lead">You have no badge yet.</p>
<p>A badge is a QR code that shows who you are and your role. Anyone can check it with the badge checker; it is signed by this service, so it cannot be forged or changed.</p>
<form method="post" action="/badge">
  ${csrfInput(kit.csrfToken(request, reply))}
  <div class="actions"><button type="submit">Make my badge</button></div>
</form>`;
    return kit.render(request, reply, { title: 'My badge', main });
  }

  function badgePage(request: FastifyRequest, reply: FastifyReply, user: User, badge: CurrentBadge, made: string | undefined) {
    const { verdict } = badge;
    const madeNotice =
      made === 'first'
        ? notice('success', 'Your badge is ready.')
        : made === 'new'
          ? notice('success', 'Your new badge is ready. Badges printed or downloaded before no longer pass a check.')
          : '';
    const state = verdict.valid
      ? ''
      : notice('warning', html`<strong>Checkers will show this badge as NOT VALID:</strong> ${reasonWords(verdict.reason)} Make a new badge below.`);
    const main = html`<h1>My badge</h1>
${madeNotice}
${state}
<div class="badge-layout">
  ${qrFigure(user, badge)}
  <div>
    <dl class="facts">
      <dt>Name</dt><dd>${displayName(user)}</dd>
      <dt>Username</dt><dd>${user.username}</dd>
      <dt>Role</dt><dd>${roleWords(user.role)}</dd>
      ${verdict.issued_at === null ? '' : html`<dt>Issued</dt><dd>${dateWords(verdict.issued_at)}</dd>`}
      ${verdict.expires_at === null ? '' : html`<dt>Expires</dt><dd>${dateWords(verdict.expires_at)}</dd>`}
    </dl>
    <p>Show this code to be checked, or keep a copy:</p>
    <div class="actions">
      <a class="button" href="/badge/badge.png" download>Download PNG</a>
      <a class="button secondary" href="/badge/badge.svg" download>Download SVG</a>
      <a class="button secondary" href="/badge/print">Print a badge card</a>
    </div>
    <details>
      <summary>The badge's text</summary>
      <p class="mono badge-text">${badge.data}</p>
    </details>
  </div>
</div>
<section aria-labelledby="new-badge-title">
  <h2 id="new-badge-title">Lost it, or changed?</h2>
  <p>You can make a new badge at any time. It replaces this one: copies of this one, printed or downloaded, stop passing a check.</p>
  <p><a href="/badge/new">Make a new badge</a></p>
</section>`;
    return kit.render(request, reply, { title: 'My badge', main });
  }

  async function sendImage(request: FastifyRequest, reply: FastifyReply, format: ImageOptions['format']) {
    const user = kit.requireUser(request, reply);
    if (user === null) return reply;
    if (user.qrCode === null) {
      return kit.render(request, reply, {
        status: 404,
        title: 'No badge yet',
        main: errorMain('You have no badge yet', 'Make your badge first, then download it.', { href: '/badge', label: 'Go to my badge' }),
      });
    }
    const image = await qr.image(user, user.id, { ...IMAGE, format });
    return reply
      .type(image.contentType)
      .header('content-disposition', `attachment; filename="badge-${user.username}.${format}"`)
      .send(image.body);
  }

  return async (app: FastifyInstance) => {
    kit.get(app, '/badge', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const badge = await currentBadge(user);
      if (badge === null) return noBadge(request, reply);
      const made = (request.query as Record<string, unknown>).made;
      return badgePage(request, reply, user, badge, typeof made === 'string' ? made : undefined);
    });

    kit.get(app, '/badge/new', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      if (user.qrCode === null) return kit.redirect(reply, '/badge');
      const main = html`<h1>Make a new badge?</h1>
${notice('warning', html`<strong>Your current badge stops working at once.</strong> Every copy of it, printed or downloaded, will show NOT VALID when checked. Print or download the new one afterwards.`)}
<form method="post" action="/badge">
  ${csrfInput(kit.csrfToken(request, reply))}
  <input type="hidden" name="replace" value="1">
  <div class="actions"><button type="submit" class="danger">Make a new badge</button><a href="/badge">Keep my badge</a></div>
</form>`;
      return kit.render(request, reply, { title: 'Make a new badge?', main, narrow: true });
    });

    kit.post(app, '/badge', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const replacing = user.qrCode !== null;
      // A badge is replaced only from the confirmation page (a stale tab's "make my badge" asks first).
      if (replacing && textField(request.body, 'replace') !== '1') return kit.redirect(reply, '/badge/new');
      await qr.generate(user);
      return kit.redirect(reply, `/badge?made=${replacing ? 'new' : 'first'}`);
    });

    kit.get(app, '/badge/badge.png', (request, reply) => sendImage(request, reply, 'png'));
    kit.get(app, '/badge/badge.svg', (request, reply) => sendImage(request, reply, 'svg'));

    kit.get(app, '/badge/print', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const badge = await currentBadge(user);
      if (badge === null) return kit.redirect(reply, '/badge');
      const { verdict } = badge;
      const main = html`<div class="no-print">
  <h1>Print your badge card</h1>
  <p>The card fits on one A4 page. Print it with your browser's Print command (Ctrl+P, or ⌘P on a Mac), then cut it out along the dashed line.</p>
  ${verdict.valid ? '' : notice('warning', html`<strong>This badge does not pass a check:</strong> ${reasonWords(verdict.reason)} <a href="/badge">Make a new one</a> before printing.`)}
  <div class="actions">
    <button type="button" data-print hidden>Print</button>
    <a href="/badge">Back to my badge</a>
  </div>
</div>
<article class="badge-card" aria-labelledby="card-name">
  <p class="badge-card-site">${kit.siteName}</p>
  ${qrFigure(user, badge)}
  <h2 class="badge-card-name" id="card-name">${displayName(user)}</h2>
  <p class="badge-card-role">${roleWords(user.role)}</p>
  <dl class="badge-card-dates">
    ${verdict.issued_at === null ? '' : html`<div><dt>Issued</dt><dd>${dateWords(verdict.issued_at)}</dd></div>`}
    ${verdict.expires_at === null ? '' : html`<div><dt>Expires</dt><dd>${dateWords(verdict.expires_at)}</dd></div>`}
  </dl>
  <p class="badge-card-user">${user.username}</p>
</article>`;
      return kit.render(request, reply, { title: 'Print your badge card', main, islands: ['print-button.js'] });
    });
  };
}
