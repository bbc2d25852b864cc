/**
 * The student's side: /attend/{session}?c=… (where the projector's QR leads: any phone camera
 * opens it), and /attendance (my attendance per course).
 *
 * Signed in, opening the link checks in at once. Not signed in, the scan's arrival is recorded by
 * the server (a single-use ticket in an HttpOnly cookie, bound to this browser's device cookie),
 * the student signs in (TOTP included) and /attend/complete checks in as of the arrival, if within
 * 2 minutes: the scan is not lost to the sign-in. A long-lived device cookie lets the teacher see a
 * second account checking in from the same browser.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Attendance } from '../../../attendance/attendance.js';
import type { CheckinResult } from '../../../attendance/checkin-service.js';
import { TICKET_TTL_MS } from '../../../attendance/checkin-service.js';
import { AppError } from '../../../errors.js';
import { notice } from '../../forms.js';
import { html } from '../../html.js';
import { type WebKit, webContext } from '../../web-kit.js';
import { clearCookie, readCookie, setCookie } from '../../web-session.js';
import { clockWords, dayWords, STATUS_WORDS, statusTag } from './attendance-views.js';

const ID_RE = /^[0-9a-f]{24}$/;
const CODE_RE = /^[A-Za-z0-9_-]{1,64}$/;
const DEVICE_RE = /^[A-Za-z0-9_-]{16,64}$/;
const DEVICE_MAX_AGE = 400 * 24 * 3600;

/** This browser's device id, made on first use. */
function deviceId(request: FastifyRequest, reply: FastifyReply): string {
  const existing = readCookie(request, 'adev');
  if (existing !== undefined && DEVICE_RE.test(existing)) return existing;
  const made = randomBytes(18).toString('base64url');
  setCookie(request, reply, 'adev', made, DEVICE_MAX_AGE);
  return made;
}

export function attendPages(deps: { kit: WebKit; attendance: Attendance }) {
  const { kit, attendance } = deps;

  function result(request: FastifyRequest, reply: FastifyReply, done: CheckinResult) {
    const { checkin, course, session } = done;
    const word = STATUS_WORDS[checkin.status] ?? checkin.status;
    const main = done.created
      ? html`<h1 class="checkin-word status-${checkin.status}">${word}</h1>
${notice('success', html`You are checked in to <strong>${course.name}</strong>, ${session.name}, at <time datetime="${checkin.at.toISOString()}">${clockWords(checkin.at)}</time>.`)}`
      : html`<h1 class="checkin-word status-${checkin.status}">Already checked in</h1>
${notice('info', html`You already checked in to <strong>${course.name}</strong>, ${session.name}, at <time datetime="${checkin.at.toISOString()}">${clockWords(checkin.at)}</time> (${word.toLowerCase()}).`)}`;
    return kit.render(request, reply, {
      title: done.created ? word : 'Already checked in',
      main: html`${main}${checkin.flags.includes('shared_device') ? html`<p class="muted">Another account checked in from this device; your teacher will see that.</p>` : ''}<p><a href="/attendance">My attendance</a></p>`,
      narrow: true,
    });
  }

  return async (app: FastifyInstance) => {
    kit.get(app, '/attend/:session_id', async (request, reply) => {
      const sessionId = (request.params as { session_id: string }).session_id;
      const code = (request.query as Record<string, unknown>).c;
      if (!ID_RE.test(sessionId)) throw new AppError(404, 'ATTENDANCE_SESSION_NOT_FOUND', 'This check-in link is not of any session');
      if (typeof code !== 'string' || !CODE_RE.test(code)) throw new AppError(400, 'INVALID_CODE', 'This link has no code: scan the code on the screen again');
      // Never stored by a cache or a proxy: the answer is this student's.
      reply.header('cache-control', 'no-store');
      const device = deviceId(request, reply);
      const user = webContext(request).user;
      if (user !== null) return result(request, reply, await attendance.checkins.checkIn(user, sessionId, code, device));
      const arrival = await attendance.checkins.arrive(sessionId, code, device);
      setCookie(request, reply, 'atk', arrival.ticket, TICKET_TTL_MS / 1000);
      const main = html`<h1>Sign in to check in</h1>
${notice('info', html`Your scan was recorded at <time datetime="${new Date(arrival.expiresAt.getTime() - TICKET_TTL_MS).toISOString()}">${clockWords(new Date(arrival.expiresAt.getTime() - TICKET_TTL_MS))}</time>. Sign in within 2 minutes and you are checked in as of then.`)}
<div class="actions"><a class="button" href="/sign-in?next=${encodeURIComponent('/attend/complete')}">Sign in</a></div>`;
      return kit.render(request, reply, { title: 'Sign in to check in', main, narrow: true });
    });

    kit.get(app, '/attend/complete', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      reply.header('cache-control', 'no-store');
      const ticket = readCookie(request, 'atk');
      clearCookie(request, reply, 'atk');
      if (ticket === undefined) throw new AppError(400, 'INVALID_TICKET', 'No scan is waiting here (older than 2 minutes, or used): scan the code on the screen again');
      const device = readCookie(request, 'adev') ?? null;
      return result(request, reply, await attendance.checkins.redeem(user, ticket, device));
    });

    kit.get(app, '/attendance', async (request, reply) => {
      const user = kit.requireUser(request, reply);
      if (user === null) return reply;
      const records = await attendance.reports.mine(user);
      const sections = records.map(
        (r) => html`<section aria-labelledby="c-${r.course.id}">
  <h2 id="c-${r.course.id}">${r.course.name}${r.course.code === null ? '' : html` <span class="muted">${r.course.code}</span>`}</h2>
  ${r.sessions.length === 0
    ? html`<p>No sessions yet.</p>`
    : html`<div class="table-wrap"><table><caption class="visually-hidden">My attendance in ${r.course.name}</caption>
    <thead><tr><th scope="col">Session</th><th scope="col">Started</th><th scope="col">Me</th><th scope="col">Checked in</th></tr></thead>
    <tbody>${r.sessions.map((s) => html`<tr><td>${s.session.name}</td><td>${dayWords(s.session.startsAt)}</td><td>${statusTag(s.status)}</td><td>${s.at === null ? '' : html`<time datetime="${s.at}">${clockWords(s.at)}</time>`}</td></tr>`)}</tbody>
  </table></div>`}
</section>`,
      );
      const main = html`<h1>My attendance</h1>
${records.length === 0 ? html`<p>You are on no course's roster yet. Scan the code your teacher shows to check in.</p>` : sections}`;
      return kit.render(request, reply, { title: 'My attendance', main, wide: true });
    });
  };
}
