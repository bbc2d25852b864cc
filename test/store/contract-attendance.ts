/**
 * The store contract, continued: attendance (courses, teachers, rosters, sessions, check-ins).
 * Called by storeContract, so SQLite, PostgreSQL and MongoDB all pass the same specification.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { AttendanceSession, Checkin, Course } from '../../src/store/attendance-store.js';
import type { Store } from '../../src/store/store.js';
import { newId } from '../../src/users/ids.js';
import { aUser } from './contract.js';

const at = (iso: string) => new Date(iso);

function aCourse(ownerId: string, overrides: Partial<Course> = {}): Course {
  return {
    id: newId(),
    name: 'Algebra',
    code: 'MATH-101',
    ownerId,
    periodSeconds: 10,
    lateAfterMinutes: 10,
    sharedDevicePolicy: 'flag',
    createdAt: at('2030-01-01T08:00:00.000Z'),
    ...overrides,
  };
}

function aSession(courseId: string, overrides: Partial<AttendanceSession> = {}): AttendanceSession {
  return {
    id: newId(),
    courseId,
    name: 'Monday',
    secret: 'ab'.repeat(32),
    startsAt: at('2030-01-07T09:00:00.000Z'),
    endsAt: at('2030-01-07T10:30:00.000Z'),
    endedAt: null,
    open: false,
    createdAt: at('2030-01-07T08:59:00.000Z'),
    ...overrides,
  };
}

function aCheckin(sessionId: string, userId: string, overrides: Partial<Checkin> = {}): Checkin {
  return {
    sessionId,
    userId,
    method: 'qr',
    status: 'present',
    flags: [],
    at: at('2030-01-07T09:02:00.000Z'),
    deviceId: null,
    note: null,
    markedBy: null,
    recordedAt: at('2030-01-07T09:02:00.000Z'),
    ...overrides,
  };
}

export function attendanceContract(name: string, open: () => Promise<Store>): void {
  describe(`Store contract (attendance): ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    async function users(count: number, role: 'student' | 'teacher' = 'student') {
      return Promise.all(Array.from({ length: count }, () => store.insertUser(aUser({ role }))));
    }

    it('stores a course, its owner as its first teacher, and changes it', async () => {
      const [teacher, other] = await users(2, 'teacher');
      const course = aCourse(teacher!.id);
      await store.attendance.insertCourse(course);
      assert.deepEqual(await store.attendance.findCourse(course.id), course);
      assert.deepEqual(await store.attendance.listTeachers(course.id), [teacher!.id]);
      assert.equal(await store.attendance.isTeacher(course.id, teacher!.id), true);
      assert.equal(await store.attendance.isTeacher(course.id, other!.id), false);
      const changed = await store.attendance.updateCourse(course.id, { periodSeconds: 30, sharedDevicePolicy: 'refuse', code: null });
      assert.deepEqual(changed, { ...course, periodSeconds: 30, sharedDevicePolicy: 'refuse', code: null });
      assert.equal(await store.attendance.findCourse(newId()), null);
      assert.equal(await store.attendance.updateCourse(newId(), { name: 'x' }), null);
    });

    it('lists the courses a user teaches, every course, and a student\'s courses, by name', async () => {
      const [t1, t2] = await users(2, 'teacher');
      const [student] = await users(1);
      const b = aCourse(t1!.id, { name: 'Biology' });
      const a = aCourse(t1!.id, { name: 'Art' });
      const c = aCourse(t2!.id, { name: 'Chemistry' });
      for (const course of [b, a, c]) await store.attendance.insertCourse(course);
      assert.deepEqual((await store.attendance.listCoursesTaughtBy(t1!.id)).map((x) => x.name), ['Art', 'Biology']);
      await store.attendance.setTeachers(c.id, [t2!.id, t1!.id, t1!.id]);
      assert.deepEqual((await store.attendance.listCoursesTaughtBy(t1!.id)).map((x) => x.name), ['Art', 'Biology', 'Chemistry']);
      assert.deepEqual(await store.attendance.listTeachers(c.id), [t1!.id, t2!.id].sort());
      assert.deepEqual((await store.attendance.listAllCourses()).map((x) => x.name), ['Art', 'Biology', 'Chemistry']);
      await store.attendance.addToRoster([{ courseId: c.id, userId: student!.id, walkIn: false, addedAt: at('2030-01-01T00:00:00Z') }]);
      assert.deepEqual((await store.attendance.listCoursesOfStudent(student!.id)).map((x) => x.id), [c.id]);
    });

    it('adds to a roster once per student and says how many were new', async () => {
      const [teacher] = await users(1, 'teacher');
      const students = await users(3);
      const course = aCourse(teacher!.id);
      await store.attendance.insertCourse(course);
      const entry = (userId: string, walkIn = false) => ({ courseId: course.id, userId, walkIn, addedAt: at('2030-01-01T00:00:00Z') });
      assert.equal(await store.attendance.addToRoster([entry(students[0]!.id), entry(students[1]!.id)]), 2);
      assert.equal(await store.attendance.addToRoster([entry(students[1]!.id), entry(students[2]!.id, true)]), 1);
      const roster = await store.attendance.listRoster(course.id);
      assert.equal(roster.length, 3);
      assert.deepEqual(await store.attendance.findRosterEntry(course.id, students[2]!.id), entry(students[2]!.id, true));
      assert.equal(await store.attendance.removeFromRoster(course.id, students[0]!.id), true);
      assert.equal(await store.attendance.removeFromRoster(course.id, students[0]!.id), false);
      assert.equal(await store.attendance.findRosterEntry(course.id, students[0]!.id), null);
    });

    it('stores sessions newest first and ends one once', async () => {
      const [teacher] = await users(1, 'teacher');
      const course = aCourse(teacher!.id);
      await store.attendance.insertCourse(course);
      const first = aSession(course.id);
      const second = aSession(course.id, { startsAt: at('2030-01-08T09:00:00Z'), endsAt: at('2030-01-08T10:00:00Z'), open: true });
      await store.attendance.insertSession(first);
      await store.attendance.insertSession(second);
      assert.deepEqual(await store.attendance.findSession(second.id), second);
      assert.deepEqual((await store.attendance.listSessions(course.id)).map((s) => s.id), [second.id, first.id]);
      const end = at('2030-01-07T09:40:00Z');
      assert.equal(await store.attendance.endSession(first.id, end), true);
      assert.equal(await store.attendance.endSession(first.id, at('2030-01-07T09:50:00Z')), false);
      assert.deepEqual((await store.attendance.findSession(first.id))?.endedAt, end);
      assert.equal(await store.attendance.findSession(newId()), null);
    });

    it('keeps the first check-in of a student in a session and returns it for a second', async () => {
      const [teacher] = await users(1, 'teacher');
      const [s1, s2] = await users(2);
      const course = aCourse(teacher!.id);
      await store.attendance.insertCourse(course);
      const session = aSession(course.id);
      await store.attendance.insertSession(session);
      const first = aCheckin(session.id, s1!.id, { flags: ['walk_in', 'shared_device'], deviceId: 'dev-1' });
      assert.deepEqual(await store.attendance.insertCheckin(first), { inserted: true, checkin: first });
      const again = await store.attendance.insertCheckin(aCheckin(session.id, s1!.id, { at: at('2030-01-07T09:20:00Z'), status: 'late' }));
      assert.deepEqual(again, { inserted: false, existing: first });
      const racing = await Promise.all(
        Array.from({ length: 5 }, (_, i) => store.attendance.insertCheckin(aCheckin(session.id, s2!.id, { at: new Date(Date.UTC(2030, 0, 7, 9, 3, i)) }))),
      );
      assert.equal(racing.filter((r) => r.inserted).length, 1);
      assert.equal((await store.attendance.listCheckins(session.id)).length, 2);
      assert.deepEqual(await store.attendance.findCheckin(session.id, s1!.id), first);
      assert.deepEqual(await store.attendance.otherUsersOfDevice(session.id, 'dev-1', s2!.id), [s1!.id]);
      assert.deepEqual(await store.attendance.otherUsersOfDevice(session.id, 'dev-1', s1!.id), []);
    });

    it('writes a class’s concurrent check-ins, each answered once, even when one of them cannot be written', async () => {
      const [teacher] = await users(1, 'teacher');
      const students = await users(30);
      const course = aCourse(teacher!.id);
      await store.attendance.insertCourse(course);
      const session = aSession(course.id);
      await store.attendance.insertSession(session);
      const first = aCheckin(session.id, students[0]!.id);
      await store.attendance.insertCheckin(first);
      // Arriving together (one batch on the SQL stores): 29 new, one seen before, one twice, and
      // (SQL only: a foreign key) one into a session that does not exist.
      const sql = !/mongo/i.test(name);
      const tries = [
        ...students.map((s) => aCheckin(session.id, s.id, { at: at('2030-01-07T09:05:00Z') })),
        aCheckin(session.id, students[1]!.id, { at: at('2030-01-07T09:06:00Z') }),
        ...(sql ? [aCheckin(newId(), students[2]!.id)] : []),
      ];
      const results = await Promise.allSettled(tries.map((c) => store.attendance.insertCheckin(c)));
      const answers = results.map((r) => (r.status === 'fulfilled' ? r.value : null));
      assert.deepEqual(answers[0], { inserted: false, existing: first });
      for (let i = 1; i < 30; i++) assert.deepEqual(answers[i], { inserted: true, checkin: tries[i] }, `student ${i}`);
      assert.deepEqual(answers[30], { inserted: false, existing: tries[1] });
      if (sql) assert.equal(results[31]?.status, 'rejected');
      assert.equal((await store.attendance.listCheckins(session.id)).length, 30);
    });

    it('overwrites with a manual mark and lists a course\'s and a student\'s check-ins', async () => {
      const [teacher] = await users(1, 'teacher');
      const [s1, s2] = await users(2);
      const course = aCourse(teacher!.id);
      const other = aCourse(teacher!.id, { name: 'Other' });
      await store.attendance.insertCourse(course);
      await store.attendance.insertCourse(other);
      const monday = aSession(course.id);
      const tuesday = aSession(course.id, { startsAt: at('2030-01-08T09:00:00Z') });
      const elsewhere = aSession(other.id);
      for (const s of [monday, tuesday, elsewhere]) await store.attendance.insertSession(s);
      await store.attendance.insertCheckin(aCheckin(monday.id, s1!.id));
      await store.attendance.insertCheckin(aCheckin(tuesday.id, s1!.id, { at: at('2030-01-08T09:01:00Z') }));
      await store.attendance.insertCheckin(aCheckin(elsewhere.id, s1!.id));
      const mark = aCheckin(monday.id, s1!.id, { method: 'manual', status: 'excused', note: 'doctor ✚ Здоровье', markedBy: teacher!.id });
      assert.deepEqual(await store.attendance.upsertCheckin(mark), mark);
      assert.deepEqual(await store.attendance.findCheckin(monday.id, s1!.id), mark);
      const absent = aCheckin(monday.id, s2!.id, { method: 'manual', status: 'absent', markedBy: teacher!.id });
      await store.attendance.upsertCheckin(absent);
      assert.equal((await store.attendance.listCheckinsOfCourse(course.id)).length, 3);
      assert.deepEqual((await store.attendance.listCheckinsOfUser(course.id, s1!.id)).map((c) => c.sessionId).sort(), [monday.id, tuesday.id].sort());
    });

    it("deletes a user's roster entries and check-ins with the user, and keeps the course", async () => {
      const [teacher] = await users(1, 'teacher');
      const [student] = await users(1);
      const course = aCourse(teacher!.id);
      await store.attendance.insertCourse(course);
      const session = aSession(course.id);
      await store.attendance.insertSession(session);
      await store.attendance.addToRoster([{ courseId: course.id, userId: student!.id, walkIn: false, addedAt: at('2030-01-01T00:00:00Z') }]);
      await store.attendance.insertCheckin(aCheckin(session.id, student!.id));
      assert.equal(await store.deleteUser(student!.id), true);
      assert.deepEqual(await store.attendance.listRoster(course.id), []);
      assert.deepEqual(await store.attendance.listCheckins(session.id), []);
      assert.equal(await store.deleteUser(teacher!.id), true);
      assert.notEqual(await store.attendance.findCourse(course.id), null);
    });
  });
}
