/**
 * The teacher's course pages: /teach (my courses, a new course), /teach/{course} (its sessions,
 * starting one now, its roster and adding students by pasting names or a CSV, or reading a CSV
 * file into the box: islands/roster-file.ts). The JSON API
 * keeps /courses; these pages call the same services (attendance/course-service.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Attendance } from '../../../attendance/attendance.js';
import { ROSTER_CSV_MAX_BYTES, sessionState } from '../../../attendance/course-service.js';
import { AppError } from '../../../errors.js';
import type { User } from '../../../store/store.js';
import { csrfInput, field, notice, textField } from '../../forms.js';
import { html } from '../../html.js';
import { errorMain, type WebKit } from '../../web-kit.js';
import { dayWords } from './attendance-views.js';

const ID_RE = /^[0-9a-f]{24}$/;
const ROSTER_ISLAND = ['roster-file.js'];

export function teachPages(deps: { kit: WebKit; attendance: Attendance }) {
  const { kit, attendance } = deps;
  const { courses } = attendance;

  /** Teachers and admins; a student is told where their own page is. */
  function requireTeacher(request: FastifyRequest, reply: FastifyReply): User | null {
    const user = kit.requireUser(request, reply);
    if (user === null) return null;
    if (user.role === 'teacher' || user.role === 'admin') return user;
    kit.render(request, reply, {
      status: 403,
      title: 'Not allowed',
      main: errorMain('For teachers', 'Only teachers run courses. Your own attendance is on your attendance page.', { href: '/attendance', label: 'My attendance' }),
    });
    return null;
  }

  const courseId = (request: FastifyRequest) => {
    const id = (request.params as { course_id: string }).course_id;
    if (!ID_RE.test(id)) throw new AppError(404, 'COURSE_NOT_FOUND', 'No course of yours has this id');
    return id;
  };

  async function coursePage(request: FastifyRequest, reply: FastifyReply, user: User, id: string, message: { kind: 'success' | 'warning'; text: string } | null, status = 200) {
    const course = await courses.get(user, id);
    const [sessions, roster] = await Promise.all([courses.sessions(user, id), courses.roster(user, id)]);
    const now = attendance.clock();
    const token = kit.csrfToken(request, reply);
    const sessionRows = sessions.map((s) => {
      const state = sessionState(s, now);
      return html`<tr><td><a href="/teach/${course.id}/sessions/${s.id}">${s.name}</a></td><td>${dayWords(s.startsAt)}</td><td>${state === 'live' ? html`<span class="tag status-present">Live</span>` : state === 'ended' ? 'Ended' : 'Scheduled'}</td></tr>`;
    });
    const rosterRows = roster.map(
      ({ entry, user: s }) => html`<tr><td>${s.fullName ?? s.username}</td><td>${s.username}</td><td>${s.email}</td><td>${entry.walkIn ? 'Walk-in' : ''}</td></tr>`,
    );
    const main = html`<p class="back"><a href="/teach">All courses</a></p>
<h1>${course.name}${course.code === null ? '' : html` <span class="muted">${course.code}</span>`}</h1>
${message === null ? '' : notice(message.kind, message.text)}
<p>Codes change every ${course.periodSeconds} s; late after ${course.lateAfterMinutes} minutes; a second account on one device is ${course.sharedDevicePolicy === 'refuse' ? 'refused' : 'flagged'}.</p>
<section aria-labelledby="sessions-title">
  <h2 id="sessions-title">Sessions</h2>
  <form method="post" action="/teach/${course.id}/sessions" class="inline-form">
    ${csrfInput(token)}
    ${field({ name: 'name', label: 'Session name', hint: 'Optional: the date and time when left empty', maxlength: 120 })}
    <div class="field"><label><input type="checkbox" name="open" value="1"> Open to any signed-in student (they join the roster as walk-ins)</label></div>
    <div class="actions"><button type="submit">Start a session now</button></div>
  </form>
  ${sessions.length === 0 ? html`<p>No sessions yet.</p>` : html`<div class="table-wrap"><table><caption class="visually-hidden">Sessions of ${course.name}</caption><thead><tr><th scope="col">Session</th><th scope="col">Starts</th><th scope="col">State</th></tr></thead><tbody>${sessionRows}</tbody></table></div>`}
  <p><a href="/teach/${course.id}/report.csv" download>Download the course report (CSV)</a></p>
</section>
<section aria-labelledby="roster-title">
  <h2 id="roster-title">Roster (${roster.length})</h2>
  <form method="post" action="/teach/${course.id}/roster">
    ${csrfInput(token)}
    <div class="field">
      <label for="f-students">Add students</label>
      <p class="hint" id="f-students-hint">Emails or usernames, one a line, or paste a CSV with an "email" or "username" column. Nothing is added if any name is unknown.</p>
      <textarea id="f-students" name="students" rows="5" aria-describedby="f-students-hint" required></textarea>
    </div>
    <div class="field" data-roster-file data-fills="f-students" data-max-bytes="${ROSTER_CSV_MAX_BYTES}" hidden>
      <label for="f-students-file">Or read a CSV file into the box</label>
      <input type="file" id="f-students-file" accept=".csv,.txt,text/csv,text/plain">
      <p class="hint" role="status"></p>
    </div>
    <div class="actions"><button type="submit">Add to the roster</button></div>
  </form>
  ${roster.length === 0 ? '' : html`<div class="table-wrap"><table><caption class="visually-hidden">Students of ${course.name}</caption><thead><tr><th scope="col">Name</th><th scope="col">Username</th><th scope="col">Email</th><th scope="col">Note</th></tr></thead><tbody>${rosterRows}</tbody></table></div>`}
</section>`;
    return kit.render(request, reply, { title: course.name, main, wide: true, status, islands: ROSTER_ISLAND });
  }

  return async (app: FastifyInstance) => {
    kit.get(app, '/teach', async (request, reply) => {
      const user = requireTeacher(request, reply);
      if (user === null) return reply;
      const list = await courses.list(user);
      const main = html`<h1>Courses</h1>
${list.length === 0 ? html`<p>You have no courses yet.</p>` : html`<ul class="course-list">${list.map((c) => html`<li><a href="/teach/${c.id}">${c.name}</a>${c.code === null ? '' : html` <span class="muted">${c.code}</span>`}</li>`)}</ul>`}
<section aria-labelledby="new-course">
  <h2 id="new-course">New course</h2>
  <form method="post" action="/teach">
    ${csrfInput(kit.csrfToken(request, reply))}
    ${field({ name: 'name', label: 'Name', required: true, maxlength: 120 })}
    ${field({ name: 'code', label: 'Course code', hint: 'Optional, e.g. MATH-101', maxlength: 40 })}
    <div class="actions"><button type="submit">Create the course</button></div>
  </form>
</section>`;
      return kit.render(request, reply, { title: 'Courses', main });
    });

    kit.post(app, '/teach', async (request, reply) => {
      const user = requireTeacher(request, reply);
      if (user === null) return reply;
      const name = textField(request.body, 'name');
      if (name === '' || name.length > 120) return kit.redirect(reply, '/teach');
      const course = await courses.create(user, { name, code: textField(request.body, 'code').slice(0, 40) || null });
      return kit.redirect(reply, `/teach/${course.id}`);
    });

    kit.get(app, '/teach/:course_id', async (request, reply) => {
      const user = requireTeacher(request, reply);
      if (user === null) return reply;
      const added = (request.query as Record<string, unknown>).added;
      return coursePage(request, reply, user, courseId(request), typeof added === 'string' ? { kind: 'success', text: `Added ${added} to the roster.` } : null);
    });

    kit.post(app, '/teach/:course_id/roster', async (request, reply) => {
      const user = requireTeacher(request, reply);
      if (user === null) return reply;
      const id = courseId(request);
      const text = textField(request.body, 'students', { keepSpaces: true });
      try {
        const result = await courses.importCsv(user, id, text);
        return kit.redirect(reply, `/teach/${id}?added=${result.added}`);
      } catch (error) {
        if (!(error instanceof AppError) || error.statusCode !== 400) throw error;
        const unknown = (error.extra.unknown as { line: number; value: string }[] | undefined) ?? [];
        const detail = unknown.length === 0 ? error.detail : `${error.detail}: ${unknown.map((u) => `line ${u.line} "${u.value}"`).join(', ')}.`;
        return coursePage(request, reply, user, id, { kind: 'warning', text: detail }, 400);
      }
    });

    kit.post(app, '/teach/:course_id/sessions', async (request, reply) => {
      const user = requireTeacher(request, reply);
      if (user === null) return reply;
      const id = courseId(request);
      const name = textField(request.body, 'name').slice(0, 120);
      const session = await courses.createSession(user, id, { name: name || undefined, open: textField(request.body, 'open') === '1' });
      return kit.redirect(reply, `/teach/${id}/sessions/${session.id}`);
    });

    kit.get(app, '/teach/:course_id/report.csv', async (request, reply) => {
      const user = requireTeacher(request, reply);
      if (user === null) return reply;
      const report = await attendance.reports.course(user, courseId(request));
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="attendance-${report.course.id}.csv"`)
        .send(attendance.reports.courseCsv(report));
    });
  };
}
