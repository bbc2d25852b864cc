/**
 * Attendance reports: one session (a row per student), one course (students × sessions), and a
 * student's own record per course. Students on the roster with no check-in are "absent" once the
 * session is over and "not yet" (status null) while it runs. CSV (csv.ts) and JSON share the rows.
 */
import type { AttendanceSession, Checkin, Course } from '../store/attendance-store.js';
import type { Store, User } from '../store/store.js';
import type { CourseService } from './course-service.js';
import { sessionState } from './course-service.js';
import { toCsv } from './csv.js';

export interface ReportRow {
  user_id: string;
  name: string | null;
  username: string;
  email: string;
  /** null: no check-in yet in a session that is still running. */
  status: string | null;
  at: string | null;
  method: string | null;
  flags: string[];
  note: string | null;
}

export interface SessionReport {
  course: Course;
  session: AttendanceSession;
  rows: ReportRow[];
}

export interface CourseReport {
  course: Course;
  /** Oldest first. */
  sessions: AttendanceSession[];
  students: { user: User; cells: (ReportRow | null)[] }[];
}

export interface StudentCourseRecord {
  course: Course;
  sessions: { session: AttendanceSession; status: string | null; at: string | null; method: string | null }[];
}

export interface ReportService {
  session(actor: User, courseId: string, sessionId: string): Promise<SessionReport>;
  course(actor: User, courseId: string): Promise<CourseReport>;
  /** A student's own check-ins, per course they are on the roster of. */
  mine(user: User): Promise<StudentCourseRecord[]>;
  sessionCsv(report: SessionReport): string;
  courseCsv(report: CourseReport): string;
}

function row(user: User, checkin: Checkin | undefined, over: boolean): ReportRow {
  return {
    user_id: user.id,
    name: user.fullName,
    username: user.username,
    email: user.email,
    status: checkin?.status ?? (over ? 'absent' : null),
    at: checkin?.at.toISOString() ?? null,
    method: checkin?.method ?? null,
    flags: checkin?.flags ?? [],
    note: checkin?.note ?? null,
  };
}

const byName = (a: User, b: User) => (a.fullName ?? a.username).localeCompare(b.fullName ?? b.username) || a.id.localeCompare(b.id);

export function createReportService(deps: { store: Store; courses: CourseService; clock: () => Date }): ReportService {
  const { store, courses, clock } = deps;
  const attendance = store.attendance;

  /** The roster's users plus anyone who checked in and left the roster since. */
  async function people(courseId: string, checkins: Checkin[]): Promise<User[]> {
    const ids = new Set([...(await attendance.listRoster(courseId)).map((e) => e.userId), ...checkins.map((c) => c.userId)]);
    const users = await Promise.all([...ids].map((id) => store.findUserById(id)));
    return users.filter((u): u is User => u !== null).sort(byName);
  }

  return {
    async session(actor, courseId, sessionId) {
      const { course, session } = await courses.session(actor, courseId, sessionId);
      const checkins = await attendance.listCheckins(session.id);
      const byUser = new Map(checkins.map((c) => [c.userId, c]));
      const over = sessionState(session, clock()) === 'ended';
      const users = await people(course.id, checkins);
      return { course, session, rows: users.map((u) => row(u, byUser.get(u.id), over)) };
    },

    async course(actor, courseId) {
      const course = await courses.get(actor, courseId);
      const sessions = (await attendance.listSessions(course.id)).reverse();
      const checkins = await attendance.listCheckinsOfCourse(course.id);
      const key = (sessionId: string, userId: string) => `${sessionId}:${userId}`;
      const index = new Map(checkins.map((c) => [key(c.sessionId, c.userId), c]));
      const now = clock();
      const users = await people(course.id, checkins);
      return {
        course,
        sessions,
        students: users.map((user) => ({
          user,
          cells: sessions.map((s) => {
            const over = sessionState(s, now) === 'ended';
            const checkin = index.get(key(s.id, user.id));
            return checkin === undefined && !over ? null : row(user, checkin, over);
          }),
        })),
      };
    },

    async mine(user) {
      const now = clock();
      const list = await attendance.listCoursesOfStudent(user.id);
      return Promise.all(
        list.map(async (course) => {
          const sessions = (await attendance.listSessions(course.id)).filter((s) => sessionState(s, now) !== 'scheduled');
          const mine = new Map((await attendance.listCheckinsOfUser(course.id, user.id)).map((c) => [c.sessionId, c]));
          return {
            course,
            sessions: sessions.map((session) => {
              const c = mine.get(session.id);
              const over = sessionState(session, now) === 'ended';
              return { session, status: c?.status ?? (over ? 'absent' : null), at: c?.at.toISOString() ?? null, method: c?.method ?? null };
            }),
          };
        }),
      );
    },

    sessionCsv(report) {
      return toCsv(
        ['name', 'username', 'email', 'status', 'time', 'method', 'flags', 'note'],
        report.rows.map((r) => [r.name ?? '', r.username, r.email, r.status ?? '', r.at ?? '', r.method ?? '', r.flags.join(' '), r.note ?? '']),
      );
    },

    courseCsv(report) {
      const header = ['name', 'username', 'email', ...report.sessions.map((s) => `${s.name} (${s.startsAt.toISOString()})`)];
      return toCsv(
        header,
        report.students.map(({ user, cells }) => [
          user.fullName ?? '',
          user.username,
          user.email,
          ...cells.map((c) => (c === null ? '' : [c.status ?? '', c.method ?? '', ...c.flags].filter((x) => x !== '').join(' '))),
        ]),
      );
    },
  };
}
