/**
 * A session's teacher pages, under /teach/{course}/sessions/{session}: the live list (server-sent
 * events from …/stream), manual marks, ending the session (asked first), the projector (the big
 * QR the server draws for the current code, replaced at each change by the stream's `code` event:
 * the projector never computes a code, so its clock does not matter), the CSV report, and the
 * badge scanner (camera, offline queue, …/badge-scans to sync). Every rule is the services'.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Attendance } from '../../../attendance/attendance.js';
import { BADGE_BATCH_MAX } from '../../../attendance/checkin-service.js';
import { sessionState } from '../../../attendance/course-service.js';
import { AppError } from '../../../errors.js';
import type { QrImages } from '../../../qr-render/qr-images.js';
import type { CheckinStatus } from '../../../store/attendance-store.js';
import type { User } from '../../../store/store.js';
import { csrfInput, notice, textField } from '../../forms.js';
import { html, raw } from '../../html.js';
import { type WebKit, webContext } from '../../web-kit.js';
import { clockWords, liveRow, STATUS_WORDS, statusTag } from './attendance-views.js';

const ID_RE = /^[0-9a-f]{24}$/;
const STATUSES: CheckinStatus[] = ['present', 'late', 'absent', 'excused'];

export function sessionPages(deps: { kit: WebKit; attendance: Attendance; images: QrImages; publicUrl: string | null }) {
  const { kit, attendance, images } = deps;
  const { courses, reports, checkins, live } = attendance;
  const linkBase = (request: FastifyRequest) => deps.publicUrl ?? `${request.protocol}://${request.host}`;

  function ids(request: FastifyRequest) {
    const { course_id, session_id } = request.params as { course_id: string; session_id: string };
    if (!ID_RE.test(course_id) || !ID_RE.test(session_id)) throw new AppError(404, 'ATTENDANCE_SESSION_NOT_FOUND', 'No attendance session has this id');
    return { courseId: course_id, sessionId: session_id, base: `/teach/${course_id}/sessions/${session_id}` };
  }

  function teacher(request: FastifyRequest, reply: FastifyReply): User | null {
    return kit.requireUser(request, reply);
  }

  /** The QR of the current code: the service's own drawing, with a 4-module quiet zone. */
  function codeSvg(secret: string, sessionId: string, period: number, request: FastifyRequest): { svg: string; url: string; changesAt: string } {
    const view = live.codeView(secret, sessionId, period, linkBase(request));
    const image = images.render(view.url, { format: 'svg', margin: 4, ecc: 'M' }, 'query');
    return { svg: String(image.body), url: view.url, changesAt: view.changes_at };
  }

  return async (app: FastifyInstance) => {
    kit.get(app, '/teach/:course_id/sessions/:session_id', async (request, reply) => {
      const user = teacher(request, reply);
      if (user === null) return reply;
      const { courseId, sessionId, base } = ids(request);
      const report = await reports.session(user, courseId, sessionId);
      const { course, session } = report;
      const state = sessionState(session, attendance.clock());
      // The report's rows with a check-in (`at`), in the order they came: the live list's first rows.
      const checkedIn = report.rows.filter((r) => r.at !== null).sort((a, b) => (a.at as string).localeCompare(b.at as string));
      const liveRows = checkedIn.map((r) =>
        liveRow({ ...r, full_name: r.name, status: r.status as string, method: r.method as string, at: r.at as string }),
      );
      const token = kit.csrfToken(request, reply);
      const marks = report.rows.map(
        (r) => html`<tr>
  <th scope="row">${r.name ?? r.username}</th>
  <td>${statusTag(r.status)}</td>
  <td>
    <form method="post" action="${base}/marks" class="mark-form">
      ${csrfInput(token)}
      <input type="hidden" name="user_id" value="${r.user_id}">
      <label class="visually-hidden" for="status-${r.user_id}">Mark ${r.name ?? r.username}</label>
      <select id="status-${r.user_id}" name="status">${STATUSES.map((s) => html`<option value="${s}"${((r.at !== null ? r.status : null) ?? 'present') === s ? html` selected` : ''}>${STATUS_WORDS[s]}</option>`)}</select>
      <label class="visually-hidden" for="note-${r.user_id}">Note for ${r.name ?? r.username}</label>
      <input id="note-${r.user_id}" name="note" type="text" maxlength="500" placeholder="Note" value="${r.note ?? ''}">
      <button type="submit" class="secondary">Save<span class="visually-hidden"> the mark of ${r.name ?? r.username}</span></button>
    </form>
  </td>
</tr>`,
      );
      const marked = (request.query as Record<string, unknown>).marked === '1';
      const main = html`<p class="back"><a href="/teach/${course.id}">${course.name}</a></p>
<h1>${session.name}</h1>
${marked ? notice('success', 'The mark is saved.') : ''}
<p>${state === 'live' ? 'Live now' : state === 'ended' ? 'Ended' : 'Scheduled'} · ${clockWords(session.startsAt)}–${clockWords(session.endedAt ?? session.endsAt)}${session.open ? ' · open to walk-ins' : ''}</p>
<div class="actions">
  ${state === 'ended' ? '' : html`<a class="button" href="${base}/projector">Open the projector</a>
  <a class="button secondary" href="${base}/scan">Scan badges</a>`}
  <a class="button secondary" href="${base}/report.csv" download>Download CSV</a>
  ${state === 'ended' ? '' : html`<a class="button danger" href="${base}/end">End the session</a>`}
</div>
<section aria-labelledby="live-title" id="live" data-stream="${base}/stream">
  <h2 id="live-title">Checked in: <span id="live-count">${liveRows.length}</span></h2>
  <p id="live-status" class="muted" role="status"></p>
  <div class="table-wrap"><table id="live-list"><caption class="visually-hidden">Students checked in, newest last</caption>
    <thead><tr><th scope="col">Name</th><th scope="col">Username</th><th scope="col">Status</th><th scope="col">Time</th><th scope="col">Method</th></tr></thead>
    <tbody>${liveRows}</tbody>
  </table></div>
</section>
<section aria-labelledby="marks-title">
  <h2 id="marks-title">Mark by hand</h2>
  <div class="table-wrap"><table><caption class="visually-hidden">Every student of the course</caption>
    <thead><tr><th scope="col">Student</th><th scope="col">Now</th><th scope="col">Mark</th></tr></thead>
    <tbody>${marks}</tbody>
  </table></div>
</section>`;
      return kit.render(request, reply, { title: session.name, main, wide: true, islands: ['attendance-live.js'] });
    });

    kit.post(app, '/teach/:course_id/sessions/:session_id/marks', async (request, reply) => {
      const user = teacher(request, reply);
      if (user === null) return reply;
      const { courseId, sessionId, base } = ids(request);
      const status = textField(request.body, 'status') as CheckinStatus;
      const userId = textField(request.body, 'user_id');
      if (!STATUSES.includes(status) || !ID_RE.test(userId)) throw new AppError(400, 'BAD_REQUEST', 'Choose a mark for a student of the list');
      const note = textField(request.body, 'note').slice(0, 500) || null;
      await checkins.mark(user, courseId, sessionId, userId, { status, note }, { ip: request.ip, userAgent: request.headers['user-agent'] ?? null });
      return kit.redirect(reply, `${base}?marked=1`);
    });

    kit.get(app, '/teach/:course_id/sessions/:session_id/end', async (request, reply) => {
      const user = teacher(request, reply);
      if (user === null) return reply;
      const { courseId, sessionId, base } = ids(request);
      const { session } = await courses.session(user, courseId, sessionId);
      const main = html`<h1>End “${session.name}”?</h1>
${notice('warning', html`<strong>Its codes stop working at once.</strong> Students who have not checked in will show as absent; you can still mark them by hand.`)}
<form method="post" action="${base}/end">
  ${csrfInput(kit.csrfToken(request, reply))}
  <div class="actions"><button type="submit" class="danger">End the session</button><a href="${base}">Keep it running</a></div>
</form>`;
      return kit.render(request, reply, { title: 'End the session?', main, narrow: true });
    });

    kit.post(app, '/teach/:course_id/sessions/:session_id/end', async (request, reply) => {
      const user = teacher(request, reply);
      if (user === null) return reply;
      const { courseId, sessionId, base } = ids(request);
      await courses.endSession(user, courseId, sessionId);
      return kit.redirect(reply, base);
    });

    kit.get(app, '/teach/:course_id/sessions/:session_id/projector', async (request, reply) => {
      const user = teacher(request, reply);
      if (user === null) return reply;
      const { courseId, sessionId, base } = ids(request);
      const { course, session, rows } = await reports.session(user, courseId, sessionId);
      const count = rows.filter((r) => r.status === 'present' || r.status === 'late').length;
      const code = codeSvg(session.secret, session.id, course.periodSeconds, request);
      const main = html`<section class="projector" id="projector" data-stream="${base}/stream?code=1" data-qr="${base}/qr.svg" aria-labelledby="projector-title">
  <div class="projector-head">
    <h1 id="projector-title">${course.name}</h1>
    <p class="projector-session">${session.name}</p>
  </div>
  <div class="projector-qr" role="img" aria-label="QR code to check in to ${session.name}"><div id="projector-code">${raw(code.svg)}</div></div>
  <p class="projector-help">Scan with your phone's camera to check in. The code changes every ${course.periodSeconds} seconds.</p>
  <p class="projector-count" role="status"><span id="projector-count">${count}</span> checked in</p>
  <div class="actions no-print"><button type="button" id="projector-full" hidden>Full screen</button><a href="${base}">Back to the live list</a></div>
</section>`;
      return kit.render(request, reply, { title: `Projector: ${session.name}`, main, wide: true, islands: ['attendance-live.js'] });
    });

    // The current code's QR, drawn by the server when the projector's stream says it changed.
    kit.get(app, '/teach/:course_id/sessions/:session_id/qr.svg', async (request, reply) => {
      const user = teacher(request, reply);
      if (user === null) return reply;
      const { courseId, sessionId } = ids(request);
      const { course, session } = await courses.session(user, courseId, sessionId);
      const code = codeSvg(session.secret, session.id, course.periodSeconds, request);
      return reply.type('image/svg+xml').header('cache-control', 'no-store').send(code.svg);
    });

    kit.get(app, '/teach/:course_id/sessions/:session_id/stream', async (request, reply) => {
      const user = teacher(request, reply);
      if (user === null) return reply;
      const { courseId, sessionId } = ids(request);
      const withCode = (request.query as Record<string, unknown>).code === '1';
      await attendance.streams.serve(request, reply, (send) => live.open(user, courseId, sessionId, { code: withCode, linkBase: linkBase(request) }, send));
      return reply;
    });

    kit.get(app, '/teach/:course_id/sessions/:session_id/report.csv', async (request, reply) => {
      const user = teacher(request, reply);
      if (user === null) return reply;
      const { courseId, sessionId } = ids(request);
      const report = await reports.session(user, courseId, sessionId);
      const name = `attendance-${report.session.startsAt.toISOString().slice(0, 10)}-${report.session.id}.csv`;
      return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}"`).send(reports.sessionCsv(report));
    });

    kit.get(app, '/teach/:course_id/sessions/:session_id/scan', async (request, reply) => {
      const user = teacher(request, reply);
      if (user === null) return reply;
      const { courseId, sessionId, base } = ids(request);
      const { course, session } = await courses.session(user, courseId, sessionId);
      const main = html`<p class="back"><a href="${base}">${session.name}</a></p>
<h1>Scan badges</h1>
<p>${course.name} · ${session.name}. Point the camera at each student's badge. It keeps working without a network: badges are checked here against the service's keys, queued on this device, and sent when the network is back.</p>
<section id="badge-scan" class="card" data-session="${session.id}" data-sync="${base}/badge-scans" data-csrf="${kit.csrfToken(request, reply)}" data-decoder="${kit.assets.url('qr-decoder.js')}" data-max="${BADGE_BATCH_MAX}" aria-labelledby="scan-title">
  <h2 id="scan-title">Camera</h2>
  <p id="scan-status" role="status">The scanner needs JavaScript and a camera.</p>
  <div class="actions"><button type="button" id="scan-start" hidden>Start the camera</button><button type="button" id="scan-stop" class="secondary" hidden>Stop the camera</button></div>
  <video id="scan-video" class="camera-view" playsinline muted hidden></video>
  <p>Waiting to send: <strong id="scan-queued">0</strong> · <span id="scan-network"></span></p>
  <h3>Scanned</h3>
  <ul id="scan-results" aria-live="polite"></ul>
</section>`;
      return kit.render(request, reply, { title: 'Scan badges', main, islands: ['badge-scan.js'] });
    });

    // The scanner's queue, sent when online: JSON with the CSRF token of the page (a form post's check).
    kit.post(app, '/teach/:course_id/sessions/:session_id/badge-scans', async (request, reply) => {
      const user = webContext(request).user;
      if (user === null) return reply.code(401).send({ detail: 'Sign in again', code: 'NOT_AUTHENTICATED' });
      const { courseId, sessionId } = ids(request);
      const scans = (request.body as { scans?: unknown }).scans;
      if (!Array.isArray(scans) || scans.length === 0 || scans.length > BADGE_BATCH_MAX) {
        return reply.code(400).send({ detail: `Send 1 to ${BADGE_BATCH_MAX} scans`, code: 'BAD_REQUEST' });
      }
      const parsed = scans.map((s: unknown) => {
        const scan = s as { data?: unknown; scanned_at?: unknown };
        return { data: typeof scan.data === 'string' ? scan.data.slice(0, 4096) : '', scannedAt: new Date(typeof scan.scanned_at === 'string' ? scan.scanned_at : NaN) };
      });
      const outcomes = await checkins.badgeScans(user, courseId, sessionId, parsed);
      return reply.type('application/json').send({
        results: outcomes.map((o) =>
          o.outcome === 'refused'
            ? { outcome: o.outcome, reason: o.reason, user_id: o.user_id }
            : { outcome: o.outcome, user_id: o.user.id, username: o.user.username, name: o.user.fullName, status: o.checkin.status, at: o.checkin.at.toISOString() },
        ),
      });
    });
  };
}
