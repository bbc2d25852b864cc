/**
 * Courses, teachers, rosters and sessions over the API: who sees what (a course not yours is a
 * 404), the roster's all-or-nothing imports, and sessions scheduled or started now.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { json, liveCourse, type Person, personMaker } from './helpers.js';

describe('attendance: courses and rosters', () => {
  let t: TestApp;
  let person: ReturnType<typeof personMaker>;
  let teacher: Person;
  let otherTeacher: Person;
  let admin: Person;
  before(async () => {
    t = await buildTestApp();
    person = personMaker(t);
    teacher = await person('teacher');
    otherTeacher = await person('teacher');
    admin = await person('admin');
  });
  after(() => t.close());

  it('lets a teacher create a course with defaults, and refuses a student (403 TEACHER_REQUIRED)', async () => {
    const res = await json(t.app, 'POST', '/courses', teacher, { name: 'Physics', code: 'PHY-1' });
    assert.equal(res.status, 201);
    assert.equal(res.body.owner_id, teacher.id);
    assert.equal(res.body.period_seconds, 10);
    assert.equal(res.body.late_after_minutes, 10);
    assert.equal(res.body.shared_device, 'flag');
    const student = await person();
    const refused = await json(t.app, 'POST', '/courses', student, { name: 'Mine' });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'TEACHER_REQUIRED');
  });

  it('keeps the code period within 5–60 s (422 otherwise)', async () => {
    for (const period_seconds of [4, 61]) {
      const res = await json(t.app, 'POST', '/courses', teacher, { name: 'X', period_seconds });
      assert.equal(res.status, 422, `${period_seconds}`);
    }
    const ok = await json(t.app, 'POST', '/courses', teacher, { name: 'X', period_seconds: 5 });
    assert.equal(ok.status, 201);
  });

  it("answers 404 for another teacher's course, to that teacher and to students, and shows it to an admin", async () => {
    const course = await json<{ id: string }>(t.app, 'POST', '/courses', teacher, { name: 'Secret' });
    const student = await person();
    for (const who of [otherTeacher, student]) {
      for (const url of [`/courses/${course.body.id}`, `/courses/${course.body.id}/roster`, `/courses/${course.body.id}/report`]) {
        const res = await json(t.app, 'GET', url, who);
        assert.equal(res.status, 404, url);
        assert.equal(res.body.code, 'COURSE_NOT_FOUND');
      }
    }
    const patch = await json(t.app, 'PATCH', `/courses/${course.body.id}`, otherTeacher, { name: 'Mine now' });
    assert.equal(patch.status, 404);
    assert.equal((await json(t.app, 'GET', `/courses/${course.body.id}`, admin)).status, 200);
    const mine = await json<{ courses: { id: string }[] }>(t.app, 'GET', '/courses', otherTeacher);
    assert.ok(!mine.body.courses.some((c) => c.id === course.body.id));
    const all = await json<{ courses: { id: string }[] }>(t.app, 'GET', '/courses', admin);
    assert.ok(all.body.courses.some((c) => c.id === course.body.id));
    assert.deepEqual((await json(t.app, 'GET', '/courses', student)).body, { courses: [] });
  });

  it('lets an admin (only) change the teachers, refusing names that are no teacher', async () => {
    const course = await json<{ id: string }>(t.app, 'POST', '/courses', teacher, { name: 'Shared' });
    const url = `/courses/${course.body.id}/teachers`;
    const byTeacher = await json(t.app, 'PUT', url, teacher, { teachers: [otherTeacher.email] });
    assert.equal(byTeacher.status, 403);
    const student = await person();
    const bad = await json<{ code: string; unknown: { value: string }[] }>(t.app, 'PUT', url, admin, {
      teachers: [teacher.id, student.email, 'nobody@example.com'],
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'INVALID_TEACHERS');
    assert.deepEqual(bad.body.unknown.map((u) => u.value), [student.email, 'nobody@example.com']);
    const ok = await json<{ teachers: { id: string }[] }>(t.app, 'PUT', url, admin, { teachers: [teacher.id, otherTeacher.username] });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body.teachers.map((x) => x.id).sort(), [teacher.id, otherTeacher.id].sort());
    assert.equal((await json(t.app, 'GET', `/courses/${course.body.id}`, otherTeacher)).status, 200);
    const audit = await t.store.audit.list({ limit: 5, type: 'attendance.teachers_changed' });
    assert.equal(audit[0]?.actorId, admin.id);
  });

  it('adds students by email or username, all or nothing, and reports each unknown one', async () => {
    const [a, b] = [await person(), await person()];
    const course = await json<{ id: string }>(t.app, 'POST', '/courses', teacher, { name: 'Roster' });
    const url = `/courses/${course.body.id}/roster`;
    const refused = await json<{ code: string; unknown: { line: number; value: string }[] }>(t.app, 'POST', url, teacher, {
      students: [a.email, 'ghost@example.com', b.username, 'nobody'],
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, 'UNKNOWN_STUDENTS');
    assert.deepEqual(refused.body.unknown, [
      { line: 2, value: 'ghost@example.com' },
      { line: 4, value: 'nobody' },
    ]);
    assert.deepEqual((await json(t.app, 'GET', url, teacher)).body, { students: [] }, 'nothing half-added');
    const ok = await json(t.app, 'POST', url, teacher, { students: [a.email.toUpperCase(), b.username] });
    assert.deepEqual(ok.body, { added: 2, already: 0 });
    const again = await json(t.app, 'POST', url, teacher, { students: [a.email] });
    assert.deepEqual(again.body, { added: 0, already: 1 });
    const roster = await json<{ students: { id: string; walk_in: boolean }[] }>(t.app, 'GET', url, teacher);
    assert.deepEqual(roster.body.students.map((s) => s.id).sort(), [a.id, b.id].sort());
    assert.equal((await json(t.app, 'DELETE', `${url}/${a.id}`, teacher)).status, 204);
    const gone = await json(t.app, 'DELETE', `${url}/${a.id}`, teacher);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.code, 'STUDENT_NOT_ON_ROSTER');
  });

  describe('POST /courses/{id}/roster/import', () => {
    const upload = (courseId: string, who: Person, csv: string | Buffer) =>
      t.app.inject({
        method: 'POST',
        url: `/courses/${courseId}/roster/import`,
        headers: { ...who.headers, 'content-type': 'text/csv' },
        payload: csv,
      });

    it('imports a CSV with a byte-order mark, a header and quoted fields', async () => {
      const [a, b] = [await person(), await person()];
      const course = await json<{ id: string }>(t.app, 'POST', '/courses', teacher, { name: 'CSV' });
      const csv = `\uFEFFname,email\r\n"Ågren, Alice",${a.email}\r\n"Бобров ""Боб""",${b.email}\r\n\r\n`;
      const res = await upload(course.body.id, teacher, csv);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), { added: 2, already: 0 });
    });

    it('reports unknown rows by line and imports nothing', async () => {
      const a = await person();
      const course = await json<{ id: string }>(t.app, 'POST', '/courses', teacher, { name: 'CSV2' });
      const res = await upload(course.body.id, teacher, `username\n${a.username}\nnot_a_user\n`);
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'UNKNOWN_STUDENTS');
      assert.deepEqual(res.json().unknown, [{ line: 3, value: 'not_a_user' }]);
      assert.deepEqual((await json(t.app, 'GET', `/courses/${course.body.id}/roster`, teacher)).body, { students: [] });
    });

    it('refuses an oversized CSV with 413, a broken one with 400, and changes nothing', async () => {
      const course = await json<{ id: string }>(t.app, 'POST', '/courses', teacher, { name: 'CSV3' });
      const big = await upload(course.body.id, teacher, 'x@example.com\n'.repeat(30_000));
      assert.equal(big.statusCode, 413);
      const broken = await upload(course.body.id, teacher, 'email\n"unterminated@example.com\n');
      assert.equal(broken.statusCode, 400);
      assert.equal(broken.json().code, 'INVALID_CSV');
      const other = await upload(course.body.id, otherTeacher, 'email\n');
      assert.equal(other.statusCode, 404);
      assert.deepEqual((await json(t.app, 'GET', `/courses/${course.body.id}/roster`, teacher)).body, { students: [] });
    });
  });

  it('starts a session now (90 minutes) or schedules one, and refuses an impossible schedule', async () => {
    const { courseId, sessionId } = await liveCourse(t, teacher, []);
    const now = await json<{ state: string; starts_at: string; ends_at: string }>(t.app, 'GET', `/courses/${courseId}/sessions/${sessionId}`, teacher);
    assert.equal(now.body.state, 'live');
    assert.equal(Date.parse(now.body.ends_at) - Date.parse(now.body.starts_at), 90 * 60_000);
    const later = new Date(Date.now() + 3600_000);
    const scheduled = await json<{ state: string }>(t.app, 'POST', `/courses/${courseId}/sessions`, teacher, {
      starts_at: later.toISOString(),
      ends_at: new Date(later.getTime() + 3600_000).toISOString(),
      open: true,
    });
    assert.equal(scheduled.status, 201);
    assert.equal(scheduled.body.state, 'scheduled');
    const backwards = await json(t.app, 'POST', `/courses/${courseId}/sessions`, teacher, {
      starts_at: later.toISOString(),
      ends_at: new Date(later.getTime() - 1).toISOString(),
    });
    assert.equal(backwards.status, 400);
    assert.equal(backwards.body.code, 'INVALID_SCHEDULE');
    const list = await json<{ sessions: unknown[] }>(t.app, 'GET', `/courses/${courseId}/sessions`, teacher);
    assert.equal(list.body.sessions.length, 2);
    const elsewhere = await json(t.app, 'GET', `/courses/${courseId}/sessions/${sessionId}`, otherTeacher);
    assert.equal(elsewhere.status, 404);
  });

  it("answers 404 ATTENDANCE_SESSION_NOT_FOUND for another course's session under this course", async () => {
    const first = await liveCourse(t, teacher, []);
    const second = await liveCourse(t, teacher, []);
    const res = await json(t.app, 'GET', `/courses/${first.courseId}/sessions/${second.sessionId}`, teacher);
    assert.equal(res.status, 404);
    assert.equal(res.body.code, 'ATTENDANCE_SESSION_NOT_FOUND');
  });
});
