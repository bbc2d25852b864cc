/** Domain attendance records -> the API's JSON shapes (snake_case, ISO times), shared by routes and pages. */
import type { AttendanceSession, Course } from '../store/attendance-store.js';
import type { User } from '../store/store.js';
import type { CheckinResult } from './checkin-service.js';
import { sessionState } from './course-service.js';
import type { CourseReport, SessionReport } from './reports.js';

export const courseJson = (c: Course) => ({
  id: c.id,
  name: c.name,
  code: c.code,
  owner_id: c.ownerId,
  period_seconds: c.periodSeconds,
  late_after_minutes: c.lateAfterMinutes,
  shared_device: c.sharedDevicePolicy,
  created_at: c.createdAt.toISOString(),
});

export const sessionJson = (s: AttendanceSession, now: Date) => ({
  id: s.id,
  course_id: s.courseId,
  name: s.name,
  starts_at: s.startsAt.toISOString(),
  ends_at: s.endsAt.toISOString(),
  ended_at: s.endedAt?.toISOString() ?? null,
  open: s.open,
  state: sessionState(s, now),
});

export const personJson = (u: User) => ({ id: u.id, username: u.username, email: u.email, full_name: u.fullName });

export const checkinJson = (r: CheckinResult) => ({
  session_id: r.session.id,
  course_id: r.course.id,
  course_name: r.course.name,
  session_name: r.session.name,
  user_id: r.checkin.userId,
  status: r.checkin.status,
  method: r.checkin.method,
  flags: r.checkin.flags,
  at: r.checkin.at.toISOString(),
  already: !r.created,
});

export const sessionReportJson = (r: SessionReport, now: Date) => ({
  course: courseJson(r.course),
  session: sessionJson(r.session, now),
  rows: r.rows,
});

export const courseReportJson = (r: CourseReport, now: Date) => ({
  course: courseJson(r.course),
  sessions: r.sessions.map((s) => sessionJson(s, now)),
  students: r.students.map((s) => ({ ...personJson(s.user), sessions: s.cells })),
});
