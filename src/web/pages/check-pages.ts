/**
 * /check, the badge checker: point a camera at a badge (the badge-check island decodes the frames
 * in the browser and asks POST /qr/verify), or, without script, upload a photo of it or paste its
 * text. Every way ends in the same verdict view (views/badge-verdict.ts).
 *
 * The text is checked by the verifier POST /qr/verify uses, with its per-IP limit; a photo is read
 * by the scanner POST /qr/scan uses, with its per-user limit and budgets, and only for someone
 * signed in: reading a photo costs real CPU (qr/qr-scan.ts), too much to offer anonymously.
 */
import multipart, { type MultipartFile } from '@fastify/multipart';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import { PART_TYPES } from '../../qr/badge-routes.js';
import type { BadgeVerdict, BadgeVerifier } from '../../qr/badge-verifier.js';
import { type QrScanner, SCAN_MAX_BYTES } from '../../qr/qr-scan.js';
import { VERIFY_MAX_CHARS } from '../../qr/qr-schemas.js';
import { csrfInput, errorSummary, field, fieldId, type FieldError, textField, titleWithErrors } from '../forms.js';
import { html } from '../html.js';
import { verdictTitle, verdictView } from '../views/badge-verdict.js';
import { webContext, type WebKit } from '../web-kit.js';

export interface CheckDeps {
  kit: WebKit;
  verifier: BadgeVerifier;
  scanner: QrScanner;
}

/** The longest text /qr/verify reads: the page answers what the API answers. */
const MAX_TEXT = VERIFY_MAX_CHARS;
const MIB = 1024 * 1024;

interface Upload {
  field: string;
  mimetype: string;
  bytes: Buffer;
}

/** The files of a multipart form, as the multipart plugin read them (with their declared types). */
const uploadsOf = new WeakMap<FastifyRequest, Upload[]>();
/** Requests whose handler began: an error without a status before it is an unreadable upload. */
const handled = new WeakSet<FastifyRequest>();

interface CheckState {
  verdict?: BadgeVerdict;
  errors?: FieldError[];
  /** The text to show again in the field, after an error. */
  data?: string;
  status?: number;
}

/** What a scanner's refusal means for someone holding a photo. */
function photoMessage(error: AppError): string {
  switch (error.code) {
    case 'NO_QR_FOUND':
      return 'No QR code was found in the photo. Take it again closer, with the whole code in the picture and in focus.';
    case 'MULTIPLE_QR':
      return 'The photo shows more than one QR code: take a photo of one badge at a time.';
    case 'INVALID_IMAGE':
      return 'The file is not a readable PNG or JPEG image.';
    case 'UNSUPPORTED_MEDIA_TYPE':
      return 'The file must be a PNG or JPEG image.';
    case 'BUSY': {
      const seconds = Number(error.headers['Retry-After'] ?? 1);
      return `The service is busy reading other photos. Try again in ${seconds} second${seconds === 1 ? '' : 's'}.`;
    }
    default:
      return error.detail;
  }
}

/** The multipart plugin's refusals, said as a problem with the photo (null: not one of them). */
function uploadProblem(error: FastifyError): { status: number; message: string } | null {
  switch (error.code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return { status: 413, message: `The photo is too large: ${SCAN_MAX_BYTES / MIB} MiB at most. Send a smaller one.` };
    case 'FST_FILES_LIMIT':
      return { status: 413, message: 'Send one photo at a time.' };
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return { status: 413, message: 'The form sent more than a photo: send the photo alone.' };
    case 'FST_PROTO_VIOLATION':
      return { status: 400, message: 'The upload could not be read. Choose the photo again and send it.' };
    default:
      return null;
  }
}

export function checkPages(deps: CheckDeps) {
  const { kit, verifier, scanner } = deps;

  function checkPage(request: FastifyRequest, reply: FastifyReply, state: CheckState = {}) {
    const errors = state.errors ?? [];
    const user = webContext(request).user;
    const csrf = csrfInput(kit.csrfToken(request, reply));
    const fileError = errors.find((e) => e.field === 'file')?.message;
    const photo =
      user === null
        ? html`<p>Reading a photo takes the service's time, so it is for signed-in users: <a href="/sign-in?next=%2Fcheck">sign in</a> to check a photo.</p>`
        : html`<form method="post" action="/check/photo" enctype="multipart/form-data" novalidate>
  ${csrf}
  <div class="field${fileError ? ' has-error' : ''}">
    <label for="${fieldId('file')}">Photo of the badge</label>
    <p class="hint" id="${fieldId('file')}-hint">A PNG or JPEG, up to ${SCAN_MAX_BYTES / MIB} MiB, with one QR code in it</p>
    ${fileError ? html`<p class="error" id="${fieldId('file')}-error"><span class="visually-hidden">Error:</span> ${fileError}</p>` : ''}
    <input id="${fieldId('file')}" name="file" type="file" accept="image/png,image/jpeg" aria-describedby="${fieldId('file')}-hint${fileError ? html` ${fieldId('file')}-error` : ''}"${fileError ? html` aria-invalid="true"` : ''}>
  </div>
  <div class="actions"><button type="submit">Check the photo</button></div>
</form>`;
    const main = html`<h1>Check a badge</h1>
${errorSummary(errors)}
<div id="verdict" class="verdict-region" aria-live="polite">${state.verdict === undefined ? '' : verdictView(state.verdict)}</div>
<section id="camera-check" class="card" aria-labelledby="camera-title" data-decoder="${kit.assets.url('qr-decoder.js')}" hidden>
  <h2 id="camera-title">Use the camera</h2>
  <p>Hold the badge's QR code in front of the camera. Nothing is recorded; only the code's text is sent, to be checked.</p>
  <div class="actions">
    <button type="button" id="camera-start">Start the camera</button>
    <button type="button" id="camera-stop" class="secondary" hidden>Stop the camera</button>
  </div>
  <video id="camera-video" class="camera-view" muted playsinline hidden aria-label="What the camera sees"></video>
  <p id="camera-status" role="status"></p>
</section>
<section class="card" aria-labelledby="photo-title">
  <h2 id="photo-title">Check a photo</h2>
  ${photo}
</section>
<section class="card" aria-labelledby="text-title">
  <h2 id="text-title">Check the badge's text</h2>
  <form method="post" action="/check" novalidate>
    ${csrf}
    ${field({ name: 'data', label: "The badge's text", value: state.data, autocomplete: 'off', spellcheck: false, errors, hint: 'What a QR reader app shows for the badge: it starts with USER:' })}
    <div class="actions"><button type="submit">Check the text</button></div>
  </form>
</section>`;
    const title = state.verdict === undefined ? 'Check a badge' : `${verdictTitle(state.verdict)}: check a badge`;
    return kit.render(request, reply, {
      title: titleWithErrors(title, errors),
      main,
      islands: ['badge-check.js'],
      status: state.status,
    });
  }

  return async (app: FastifyInstance) => {
    kit.get(app, '/check', async (request, reply) => checkPage(request, reply));

    kit.post(app, '/check', async (request, reply) => {
      const data = textField(request.body, 'data');
      if (data === '') return checkPage(request, reply, { errors: [{ field: 'data', message: "Enter the badge's text" }], status: 422 });
      if ([...data].length > MAX_TEXT) {
        // Not echoed back: a page must stay small whatever was pasted.
        const message = `That is too long to be a badge (${MAX_TEXT.toLocaleString('en-GB')} characters at most)`;
        return checkPage(request, reply, { errors: [{ field: 'data', message }], status: 422 });
      }
      return checkPage(request, reply, { verdict: await verifier.verify(data) });
    });

    // Only this scope reads multipart bodies (and only for someone signed in).
    await app.register(async (scope) => {
      await scope.register(multipart, {
        attachFieldsToBody: 'keyValues',
        async onFile(this: FastifyRequest, part: MultipartFile) {
          const bytes = await part.toBuffer();
          const list = uploadsOf.get(this) ?? [];
          list.push({ field: part.fieldname, mimetype: part.mimetype.toLowerCase(), bytes });
          uploadsOf.set(this, list);
        },
        limits: { fileSize: SCAN_MAX_BYTES, files: 1, fields: 5, parts: 8, fieldSize: 1024, headerPairs: 50 },
      });
      // Before a byte of the body is read.
      scope.addHook('onRequest', async (request, reply) => {
        if (webContext(request).user === null) return kit.redirect(reply, '/sign-in?next=%2Fcheck');
      });
      scope.setErrorHandler((error: FastifyError, request, reply) => {
        const problem = handled.has(request) ? null : uploadProblem(error);
        if (problem !== null) return checkPage(request, reply, { errors: [{ field: 'file', message: problem.message }], status: problem.status });
        if (!handled.has(request) && error.statusCode === undefined && !(error instanceof AppError)) {
          // The multipart parser's own complaints (a missing boundary, a cut-off body) carry no status.
          request.log.info({ err: error }, 'unreadable upload');
          return checkPage(request, reply, { errors: [{ field: 'file', message: 'The upload could not be read. Choose the photo again and send it.' }], status: 400 });
        }
        // Anything else (the CSRF check, a rate limit, an outage) is the pages' to show.
        throw error;
      });

      kit.post(scope, '/check/photo', async (request, reply) => {
        handled.add(request);
        const files = uploadsOf.get(request) ?? [];
        const fileError = (message: string, status: number) => checkPage(request, reply, { errors: [{ field: 'file', message }], status });
        const upload = files[0];
        if (files.length > 1) return fileError('Send one photo at a time.', 422);
        if (upload === undefined || upload.field !== 'file' || upload.bytes.length === 0) return fileError('Choose a photo of the badge', 422);
        if (!PART_TYPES.includes(upload.mimetype)) return fileError('The file must be a PNG or JPEG image.', 415);
        let data: string;
        try {
          data = await scanner.read(upload.bytes);
        } catch (error) {
          if (!(error instanceof AppError) || error.statusCode >= 500) throw error;
          if (error.statusCode === 429) reply.headers(error.headers);
          return fileError(photoMessage(error), error.statusCode);
        }
        return checkPage(request, reply, { verdict: await verifier.verify(data) });
      });
    });
  };
}
