/**
 * The attendance errors, each with its stable code (listed in http/error-schemas.ts). A teacher
 * asking for a course that is not theirs gets COURSE_NOT_FOUND, the same as for no course at all:
 * course ids are not probed.
 */
import { AppError } from '../errors.js';

export const attendanceErrors = {
  courseNotFound: () => new AppError(404, 'COURSE_NOT_FOUND', 'No course of yours has this id'),
  sessionNotFound: () => new AppError(404, 'ATTENDANCE_SESSION_NOT_FOUND', 'No attendance session has this id'),
  teacherRequired: () => new AppError(403, 'TEACHER_REQUIRED', 'Only a teacher or an admin may do this'),
  notOnRoster: () => new AppError(403, 'NOT_ON_ROSTER', 'You are not on the roster of this course; ask your teacher to add you'),
  studentNotOnRoster: () => new AppError(404, 'STUDENT_NOT_ON_ROSTER', 'This student is not on the roster of this course'),
  unknownStudents: (unknown: { line: number; value: string }[]) =>
    new AppError(400, 'UNKNOWN_STUDENTS', 'Some rows name no student; nothing was imported', {}, { unknown }),
  invalidTeachers: (unknown: { line: number; value: string }[]) =>
    new AppError(400, 'INVALID_TEACHERS', 'Some names are no teacher or admin; the teachers were not changed', {}, { unknown }),
  invalidCsv: (detail: string) => new AppError(400, 'INVALID_CSV', detail),
  csvTooLarge: (maxBytes: number) => new AppError(413, 'PAYLOAD_TOO_LARGE', `The CSV is larger than ${maxBytes / 1024} KiB`),
  invalidSchedule: (detail: string) => new AppError(400, 'INVALID_SCHEDULE', detail),
  invalidCode: () => new AppError(400, 'INVALID_CODE', 'This code is not the code of this session: scan the code on the screen again'),
  codeExpired: () => new AppError(400, 'CODE_EXPIRED', 'This code has expired: scan the code on the screen now'),
  sessionEnded: () => new AppError(409, 'SESSION_ENDED', 'This session has ended'),
  sessionNotStarted: () => new AppError(409, 'SESSION_NOT_STARTED', 'This session has not started yet'),
  sharedDevice: () =>
    new AppError(409, 'SHARED_DEVICE', 'Another student already checked in from this browser; check in from your own device'),
  invalidTicket: () =>
    new AppError(400, 'INVALID_TICKET', 'This scan is unknown, used, older than 2 minutes or from another browser: scan the code again'),
  tooManyCheckins: (retryAfterSeconds: number) =>
    new AppError(429, 'RATE_LIMITED', `Too many check-in attempts; retry in ${retryAfterSeconds} s`, { 'Retry-After': String(retryAfterSeconds) }),
};
