/**
 * The attendance part of the Store port (issue 13): courses, their teachers and rosters, sessions
 * and check-ins. Kept in its own file so the Store interface stays readable; every implementation
 * (SQLite, PostgreSQL, MongoDB) passes test/store/contract-attendance.ts. Rules (who may see a
 * course, when a code is valid, late or not) live in src/attendance, never here.
 */

export type SharedDevicePolicy = 'flag' | 'refuse';

export interface Course {
  /** 24 lowercase hex characters, like every id here. */
  id: string;
  name: string;
  /** A school's own course code (e.g. "MATH-101"), optional. */
  code: string | null;
  /** The teacher who created it. */
  ownerId: string;
  /** Seconds a rotating code lives (5–60). */
  periodSeconds: number;
  /** Minutes after a session's start from which a check-in is late. */
  lateAfterMinutes: number;
  /** A second account checking in from one browser: flagged for the teacher, or refused. */
  sharedDevicePolicy: SharedDevicePolicy;
  createdAt: Date;
}

export type CoursePatch = Partial<Pick<Course, 'name' | 'code' | 'periodSeconds' | 'lateAfterMinutes' | 'sharedDevicePolicy'>>;

export interface RosterEntry {
  courseId: string;
  userId: string;
  /** Added by checking in to an open session, not by a teacher. */
  walkIn: boolean;
  addedAt: Date;
}

export interface AttendanceSession {
  id: string;
  courseId: string;
  name: string;
  /** Hex; the rotating codes are HMACs of the time step under it (nothing stored per code). */
  secret: string;
  startsAt: Date;
  endsAt: Date;
  /** Ended early by the teacher; null while it runs (or until `endsAt`). */
  endedAt: Date | null;
  /** Any signed-in student may check in (and joins the roster as a walk-in). */
  open: boolean;
  createdAt: Date;
}

export type CheckinMethod = 'qr' | 'badge' | 'manual';
export type CheckinStatus = 'present' | 'late' | 'absent' | 'excused';
export type CheckinFlag = 'shared_device' | 'walk_in';

export interface Checkin {
  sessionId: string;
  userId: string;
  method: CheckinMethod;
  status: CheckinStatus;
  flags: CheckinFlag[];
  /** When the student arrived (a ticket's arrival, a badge's scan time), by server time. */
  at: Date;
  /** The browser's long-lived device id (QR check-ins), for shared-device detection. */
  deviceId: string | null;
  note: string | null;
  /** Who marked it by hand (manual), or null. */
  markedBy: string | null;
  /** When the record was written or last changed. */
  recordedAt: Date;
}

export type CheckinInsert = { inserted: true; checkin: Checkin } | { inserted: false; existing: Checkin };

export interface AttendanceStore {
  insertCourse(course: Course): Promise<void>;
  findCourse(id: string): Promise<Course | null>;
  updateCourse(id: string, patch: CoursePatch): Promise<Course | null>;
  /** Courses a user teaches (owner or added teacher), by name. */
  listCoursesTaughtBy(userId: string): Promise<Course[]>;
  /** Every course, by name (admins). */
  listAllCourses(): Promise<Course[]>;
  /** Courses whose roster holds the user, by name. */
  listCoursesOfStudent(userId: string): Promise<Course[]>;

  /** Replaces a course's teachers (the owner included by the caller). */
  setTeachers(courseId: string, userIds: string[]): Promise<void>;
  listTeachers(courseId: string): Promise<string[]>;
  isTeacher(courseId: string, userId: string): Promise<boolean>;

  /** Adds users not yet on the roster, all in one transaction; returns how many were new. */
  addToRoster(entries: RosterEntry[]): Promise<number>;
  removeFromRoster(courseId: string, userId: string): Promise<boolean>;
  listRoster(courseId: string): Promise<RosterEntry[]>;
  findRosterEntry(courseId: string, userId: string): Promise<RosterEntry | null>;

  insertSession(session: AttendanceSession): Promise<void>;
  findSession(id: string): Promise<AttendanceSession | null>;
  /** Newest start first. */
  listSessions(courseId: string): Promise<AttendanceSession[]>;
  /** Sets endedAt if the session has not ended yet; false otherwise. */
  endSession(id: string, now: Date): Promise<boolean>;

  /** The first check-in of a user in a session wins; a second returns the existing one (no duplicate). */
  insertCheckin(checkin: Checkin): Promise<CheckinInsert>;
  /** Writes a check-in whether or not one exists (a teacher's manual mark). */
  upsertCheckin(checkin: Checkin): Promise<Checkin>;
  findCheckin(sessionId: string, userId: string): Promise<Checkin | null>;
  /** In arrival order. */
  listCheckins(sessionId: string): Promise<Checkin[]>;
  /** Every check-in of every session of a course. */
  listCheckinsOfCourse(courseId: string): Promise<Checkin[]>;
  /** A user's check-ins in a course's sessions. */
  listCheckinsOfUser(courseId: string, userId: string): Promise<Checkin[]>;
  /** Users other than `userId` who checked in to the session from this device. */
  otherUsersOfDevice(sessionId: string, deviceId: string, userId: string): Promise<string[]>;
}
