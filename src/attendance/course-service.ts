/**
 * Courses, their teachers, rosters and sessions: who may see and change what. A teacher sees the
 * courses they teach (others answer 404, as if they did not exist); an admin sees every course and
 * may change its teachers; a student sees none of this (their own records are in reports.ts).
 */
import { randomBytes } from 'node:crypto';
import type { AuditLog, RequestContext } from '../audit/audit-log.js';
import type { AttendanceSession, Course, CoursePatch, RosterEntry, SharedDevicePolicy } from '../store/attendance-store.js';
import type { Store, User } from '../store/store.js';
import { newId } from '../users/ids.js';
import { attendanceErrors } from './attendance-errors.js';
import { parseCsv } from './csv.js';

export const PERIOD_RANGE = { min: 5, max: 60, default: 10 } as const;
export const LATE_AFTER_RANGE = { min: 0, max: 240, default: 10 } as const;
/** A roster upload: a school's biggest lecture, several times over. */
export const ROSTER_CSV_MAX_BYTES = 256 * 1024;
export const ROSTER_MAX_STUDENTS = 2000;
/** A session started "now" without an end lasts this long. */
const DEFAULT_SESSION_MINUTES = 90;
const MAX_SESSION_HOURS = 12;

export interface NewCourse {
  name: string;
  code?: string | null;
  periodSeconds?: number;
  lateAfterMinutes?: number;
  sharedDevicePolicy?: SharedDevicePolicy;
}

export interface NewSession {
  name?: string;
  startsAt?: Date;
  endsAt?: Date;
  open?: boolean;
}

export interface RosterStudent {
  entry: RosterEntry;
  user: User;
}

export interface CourseService {
  create(actor: User, input: NewCourse): Promise<Course>;
  list(actor: User): Promise<Course[]>;
  /** The course if the actor teaches it (or is an admin); 404 otherwise. */
  get(actor: User, courseId: string): Promise<Course>;
  update(actor: User, courseId: string, patch: CoursePatch): Promise<Course>;
  teachers(actor: User, courseId: string): Promise<User[]>;
  /** Admins only: replaces the teachers (ids, emails or usernames of teachers or admins). */
  setTeachers(actor: User, courseId: string, logins: string[], context: RequestContext): Promise<User[]>;
  roster(actor: User, courseId: string): Promise<RosterStudent[]>;
  /** All or nothing: any unknown name refuses the whole list (422 with each one). */
  addStudents(actor: User, courseId: string, logins: string[]): Promise<{ added: number; already: number }>;
  importCsv(actor: User, courseId: string, csv: string): Promise<{ added: number; already: number }>;
  removeStudent(actor: User, courseId: string, userId: string): Promise<void>;
  createSession(actor: User, courseId: string, input: NewSession): Promise<AttendanceSession>;
  sessions(actor: User, courseId: string): Promise<AttendanceSession[]>;
  /** The session if the actor teaches its course; 404 otherwise (or if it is of another course). */
  session(actor: User, courseId: string, sessionId: string): Promise<{ course: Course; session: AttendanceSession }>;
  endSession(actor: User, courseId: string, sessionId: string): Promise<AttendanceSession>;
}

const isStaff = (user: User) => user.role === 'teacher' || user.role === 'admin';

/** Live now: started, not ended by the teacher, not past its end. */
export function sessionState(session: AttendanceSession, now: Date): 'scheduled' | 'live' | 'ended' {
  if (session.endedAt !== null || now.getTime() >= session.endsAt.getTime()) return 'ended';
  return now.getTime() < session.startsAt.getTime() ? 'scheduled' : 'live';
}

export function createCourseService(deps: {
  store: Store;
  audit: AuditLog;
  clock: () => Date;
  findByLogin(login: string): Promise<User | null>;
  /** Told when a session ends (the live lists close). */
  onSessionEnded?(sessionId: string): void;
}): CourseService {
  const { store, clock } = deps;
  const attendance = store.attendance;

  async function get(actor: User, courseId: string): Promise<Course> {
    if (!isStaff(actor)) throw attendanceErrors.courseNotFound();
    const course = await attendance.findCourse(courseId);
    if (course === null) throw attendanceErrors.courseNotFound();
    if (actor.role !== 'admin' && !(await attendance.isTeacher(courseId, actor.id))) throw attendanceErrors.courseNotFound();
    return course;
  }

  async function session(actor: User, courseId: string, sessionId: string) {
    const course = await get(actor, courseId);
    const found = await attendance.findSession(sessionId);
    if (found === null || found.courseId !== course.id) throw attendanceErrors.sessionNotFound();
    return { course, session: found };
  }

  /** Resolves names to students (any role may be on a roster), reporting each unknown one. */
  async function resolve(values: { line: number; value: string }[]): Promise<User[]> {
    if (values.length > ROSTER_MAX_STUDENTS) throw attendanceErrors.invalidCsv(`At most ${ROSTER_MAX_STUDENTS} students at once`);
    const found: User[] = [];
    const unknown: { line: number; value: string }[] = [];
    for (const item of values) {
      const user = await deps.findByLogin(item.value);
      if (user === null || user.disabled) unknown.push(item);
      else found.push(user);
    }
    if (unknown.length > 0) throw attendanceErrors.unknownStudents(unknown.slice(0, 100));
    return found;
  }

  async function enrol(course: Course, students: User[]) {
    const now = clock();
    const unique = [...new Map(students.map((u) => [u.id, u])).values()];
    const added = await attendance.addToRoster(unique.map((u) => ({ courseId: course.id, userId: u.id, walkIn: false, addedAt: now })));
    return { added, already: unique.length - added };
  }

  return {
    async create(actor, input) {
      if (!isStaff(actor)) throw attendanceErrors.teacherRequired();
      const course: Course = {
        id: newId(),
        name: input.name.trim(),
        code: input.code?.trim() || null,
        ownerId: actor.id,
        periodSeconds: input.periodSeconds ?? PERIOD_RANGE.default,
        lateAfterMinutes: input.lateAfterMinutes ?? LATE_AFTER_RANGE.default,
        sharedDevicePolicy: input.sharedDevicePolicy ?? 'flag',
        createdAt: clock(),
      };
      await attendance.insertCourse(course);
      return course;
    },

    async list(actor) {
      if (actor.role === 'admin') return attendance.listAllCourses();
      if (actor.role === 'teacher') return attendance.listCoursesTaughtBy(actor.id);
      return [];
    },

    get,

    async update(actor, courseId, patch) {
      await get(actor, courseId);
      const clean: CoursePatch = { ...patch };
      if (clean.name !== undefined) clean.name = clean.name.trim();
      if (clean.code !== undefined) clean.code = clean.code?.trim() || null;
      const updated = await attendance.updateCourse(courseId, clean);
      if (updated === null) throw attendanceErrors.courseNotFound();
      return updated;
    },

    async teachers(actor, courseId) {
      await get(actor, courseId);
      const ids = await attendance.listTeachers(courseId);
      const users = await Promise.all(ids.map((id) => store.findUserById(id)));
      return users.filter((u): u is User => u !== null);
    },

    async setTeachers(actor, courseId, logins, context) {
      if (actor.role !== 'admin') throw attendanceErrors.teacherRequired();
      await get(actor, courseId);
      const users: User[] = [];
      const unknown: { line: number; value: string }[] = [];
      for (const [i, login] of logins.entries()) {
        const byId = /^[0-9a-f]{24}$/.test(login) ? await store.findUserById(login) : null;
        const user = byId ?? (await deps.findByLogin(login));
        if (user === null || !isStaff(user)) unknown.push({ line: i + 1, value: login });
        else users.push(user);
      }
      if (unknown.length > 0 || users.length === 0) throw attendanceErrors.invalidTeachers(unknown);
      await attendance.setTeachers(courseId, users.map((u) => u.id));
      await deps.audit.record('attendance.teachers_changed', {
        actorId: actor.id,
        context,
        detail: { course_id: courseId, teachers: users.map((u) => u.id) },
      });
      return users;
    },

    async roster(actor, courseId) {
      await get(actor, courseId);
      const entries = await attendance.listRoster(courseId);
      const users = await Promise.all(entries.map((e) => store.findUserById(e.userId)));
      return entries.flatMap((entry, i) => (users[i] ? [{ entry, user: users[i] }] : []));
    },

    async addStudents(actor, courseId, logins) {
      const course = await get(actor, courseId);
      const students = await resolve(logins.map((value, i) => ({ line: i + 1, value: value.trim() })));
      return enrol(course, students);
    },

    async importCsv(actor, courseId, csv) {
      const course = await get(actor, courseId);
      if (Buffer.byteLength(csv, 'utf8') > ROSTER_CSV_MAX_BYTES) throw attendanceErrors.csvTooLarge(ROSTER_CSV_MAX_BYTES);
      let rows: string[][];
      try {
        rows = parseCsv(csv);
      } catch (error) {
        throw attendanceErrors.invalidCsv((error as Error).message);
      }
      // A header row names the column to read (email or username); without one, the first column.
      const header = rows[0]?.map((h) => h.trim().toLowerCase()) ?? [];
      let column = 0;
      let first = 0;
      const named = header.findIndex((h) => h === 'email' || h === 'username' || h === 'login');
      if (named >= 0) {
        column = named;
        first = 1;
      }
      const values = rows
        .map((row, i) => ({ line: i + 1, value: (row[column] ?? '').trim() }))
        .slice(first)
        .filter((v) => v.value !== '');
      if (values.length === 0) throw attendanceErrors.invalidCsv('The CSV names no student');
      return enrol(course, await resolve(values));
    },

    async removeStudent(actor, courseId, userId) {
      await get(actor, courseId);
      if (!(await attendance.removeFromRoster(courseId, userId))) throw attendanceErrors.studentNotOnRoster();
    },

    async createSession(actor, courseId, input) {
      const course = await get(actor, courseId);
      const now = clock();
      const startsAt = input.startsAt ?? now;
      const endsAt = input.endsAt ?? new Date(startsAt.getTime() + DEFAULT_SESSION_MINUTES * 60_000);
      if (endsAt.getTime() <= startsAt.getTime()) throw attendanceErrors.invalidSchedule('The session must end after it starts');
      if (endsAt.getTime() - startsAt.getTime() > MAX_SESSION_HOURS * 3600_000) {
        throw attendanceErrors.invalidSchedule(`A session lasts at most ${MAX_SESSION_HOURS} hours`);
      }
      if (endsAt.getTime() <= now.getTime()) throw attendanceErrors.invalidSchedule('The session would end in the past');
      const session: AttendanceSession = {
        id: newId(now),
        courseId: course.id,
        name: input.name?.trim() || `${course.name}, ${startsAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
        secret: randomBytes(32).toString('hex'),
        startsAt,
        endsAt,
        endedAt: null,
        open: input.open ?? false,
        createdAt: now,
      };
      await attendance.insertSession(session);
      return session;
    },

    async sessions(actor, courseId) {
      await get(actor, courseId);
      return attendance.listSessions(courseId);
    },

    session,

    async endSession(actor, courseId, sessionId) {
      const found = await session(actor, courseId, sessionId);
      const now = clock();
      if (sessionState(found.session, now) === 'ended') throw attendanceErrors.sessionEnded();
      if (!(await attendance.endSession(sessionId, now))) throw attendanceErrors.sessionEnded();
      deps.onSessionEnded?.(sessionId);
      return { ...found.session, endedAt: now };
    },
  };
}
