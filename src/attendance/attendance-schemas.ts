/** TypeBox schemas of the attendance endpoints: validation, OpenAPI and static types in one place. */
import { type Static, Type } from 'typebox';
import { defaultsOptional, withExamples } from '../http/doc-schemas.js';
import { PATTERN_FORM } from '../http/validators.js';
import { UserIdSchema } from '../users/user-schemas.js';
import { BADGE_BATCH_MAX } from './checkin-service.js';
import { LATE_AFTER_RANGE, PERIOD_RANGE, ROSTER_MAX_STUDENTS } from './course-service.js';

const TEXT = { pattern: '^[^\\u0000-\\u001F\\u007F]*$', [PATTERN_FORM]: 'text without control characters (no line breaks, tabs or NUL)' };
const ID = '6916cbc709d9eedb316de5c3';
const SESSION_ID = '6916cbc709d9eedb316de5c4';
const STUDENT_ID = '6916cbc709d9eedb316de5c5';
const AT = '2030-01-07T09:02:11.000Z';

const Id = (description: string) =>
  Type.String({ pattern: '^[0-9a-fA-F]{24}$', [PATTERN_FORM]: 'a 24-character hex id', description, examples: [ID] });

export const CourseParamsSchema = Type.Object({ course_id: Id('The course') });
export const SessionParamsSchema = Type.Object({ course_id: Id('The course'), session_id: Id('The session') });
export const StudentParamsSchema = Type.Object({ course_id: Id('The course'), user_id: UserIdSchema });
export const MarkParamsSchema = Type.Object({ course_id: Id('The course'), session_id: Id('The session'), user_id: UserIdSchema });

const Period = Type.Integer({ minimum: PERIOD_RANGE.min, maximum: PERIOD_RANGE.max, description: 'Seconds each rotating code is shown (5–60)' });
const LateAfter = Type.Integer({
  minimum: LATE_AFTER_RANGE.min,
  maximum: LATE_AFTER_RANGE.max,
  description: "Minutes after a session's start from which a check-in counts as late",
});
const SharedDevice = Type.Enum(['flag', 'refuse'], {
  description: 'A second account checking in from the same browser in a session: flagged `shared_device`, or refused',
});
const CourseName = Type.String({ minLength: 1, maxLength: 120, ...TEXT });
const CourseCode = Type.Union([Type.String({ maxLength: 40, ...TEXT }), Type.Null()], { description: "The school's own code, optional" });

export const CreateCourseBodySchema = withExamples(
  defaultsOptional(
    Type.Object(
      {
        name: CourseName,
        code: Type.Optional(CourseCode),
        period_seconds: Type.Integer({ ...Period, default: PERIOD_RANGE.default }),
        late_after_minutes: Type.Integer({ ...LateAfter, default: LATE_AFTER_RANGE.default }),
        shared_device: Type.Enum(['flag', 'refuse'], { ...SharedDevice, default: 'flag' }),
      },
      { additionalProperties: false },
    ),
  ),
  { name: 'Algebra I', code: 'MATH-101', period_seconds: 10, late_after_minutes: 10, shared_device: 'flag' },
);

export const UpdateCourseBodySchema = withExamples(
  Type.Object(
    {
      name: Type.Optional(CourseName),
      code: Type.Optional(CourseCode),
      period_seconds: Type.Optional(Period),
      late_after_minutes: Type.Optional(LateAfter),
      shared_device: Type.Optional(SharedDevice),
    },
    { additionalProperties: false, minProperties: 1 },
  ),
  { period_seconds: 15 },
);

export const CourseSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    code: Type.Union([Type.String(), Type.Null()]),
    owner_id: Type.String(),
    period_seconds: Type.Integer(),
    late_after_minutes: Type.Integer(),
    shared_device: Type.String(),
    created_at: Type.String({ format: 'date-time' }),
  },
  { title: 'Course' },
);
const COURSE_EXAMPLE = {
  id: ID,
  name: 'Algebra I',
  code: 'MATH-101',
  owner_id: STUDENT_ID,
  period_seconds: 10,
  late_after_minutes: 10,
  shared_device: 'flag',
  created_at: AT,
};
export const CourseResponseSchema = withExamples(CourseSchema, COURSE_EXAMPLE);
export const CourseListSchema = withExamples(Type.Object({ courses: Type.Array(CourseSchema) }, { title: 'CourseList' }), {
  courses: [COURSE_EXAMPLE],
});

const PersonSchema = Type.Object({
  id: Type.String(),
  username: Type.String(),
  email: Type.String(),
  full_name: Type.Union([Type.String(), Type.Null()]),
});
const PERSON = { id: STUDENT_ID, username: 'alice', email: 'alice@example.com', full_name: 'Alice Ågren' };

export const TeachersBodySchema = withExamples(
  Type.Object(
    { teachers: Type.Array(Type.String({ minLength: 1, maxLength: 254, ...TEXT }), { minItems: 1, maxItems: 20, description: 'Ids, emails or usernames of teachers or admins' }) },
    { additionalProperties: false },
  ),
  { teachers: ['bob@example.com'] },
);
export const TeachersResponseSchema = withExamples(Type.Object({ teachers: Type.Array(PersonSchema) }, { title: 'Teachers' }), {
  teachers: [{ ...PERSON, username: 'bob', email: 'bob@example.com', full_name: 'Bob' }],
});

export const RosterBodySchema = withExamples(
  Type.Object(
    {
      students: Type.Array(Type.String({ minLength: 1, maxLength: 254, ...TEXT }), {
        minItems: 1,
        maxItems: ROSTER_MAX_STUDENTS,
        description: 'Emails or usernames; any unknown one refuses the whole list (nothing is added)',
      }),
    },
    { additionalProperties: false },
  ),
  { students: ['alice@example.com', 'bob_2'] },
);
export const RosterAddedSchema = withExamples(
  Type.Object({ added: Type.Integer({ description: 'New on the roster' }), already: Type.Integer({ description: 'On it before' }) }, { title: 'RosterAdded' }),
  { added: 2, already: 0 },
);
export const RosterSchema = withExamples(
  Type.Object(
    { students: Type.Array(Type.Object({ ...PersonSchema.properties, walk_in: Type.Boolean(), added_at: Type.String({ format: 'date-time' }) })) },
    { title: 'Roster' },
  ),
  { students: [{ ...PERSON, walk_in: false, added_at: AT }] },
);

export const CreateSessionBodySchema = withExamples(
  Type.Object(
    {
      name: Type.Optional(Type.String({ minLength: 1, maxLength: 120, ...TEXT })),
      starts_at: Type.Optional(Type.String({ format: 'date-time', description: 'Scheduled start; now when omitted' })),
      ends_at: Type.Optional(Type.String({ format: 'date-time', description: 'End; 90 minutes after the start when omitted' })),
      open: Type.Optional(Type.Boolean({ description: 'Any signed-in student may check in (joins the roster as a walk-in); default false' })),
    },
    { additionalProperties: false },
  ),
  { name: 'Lecture 3', open: false },
);

export const SessionSchema = Type.Object(
  {
    id: Type.String(),
    course_id: Type.String(),
    name: Type.String(),
    starts_at: Type.String({ format: 'date-time' }),
    ends_at: Type.String({ format: 'date-time' }),
    ended_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    open: Type.Boolean(),
    state: Type.Enum(['scheduled', 'live', 'ended']),
  },
  { title: 'AttendanceSession' },
);
const SESSION_EXAMPLE = {
  id: SESSION_ID,
  course_id: ID,
  name: 'Lecture 3',
  starts_at: '2030-01-07T09:00:00.000Z',
  ends_at: '2030-01-07T10:30:00.000Z',
  ended_at: null,
  open: false,
  state: 'live' as const,
};
export const SessionResponseSchema = withExamples(SessionSchema, SESSION_EXAMPLE);
export const SessionListSchema = withExamples(Type.Object({ sessions: Type.Array(SessionSchema) }, { title: 'SessionList' }), {
  sessions: [SESSION_EXAMPLE],
});

export const CodeResponseSchema = withExamples(
  Type.Object(
    {
      code: Type.String(),
      url: Type.String({ description: 'The link the QR holds: the check-in page' }),
      step: Type.Integer(),
      changes_at: Type.String({ format: 'date-time' }),
      period_seconds: Type.Integer(),
    },
    { title: 'RotatingCode' },
  ),
  {
    code: 'mE2v0aQx4kPq',
    url: `https://auth.example.com/attend/${SESSION_ID}?c=mE2v0aQx4kPq`,
    step: 189_415_573,
    changes_at: '2030-01-07T09:02:20.000Z',
    period_seconds: 10,
  },
);

const Code = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$', [PATTERN_FORM]: 'the code from the QR link (c=…)' });
const DeviceId = Type.String({
  minLength: 16,
  maxLength: 64,
  pattern: '^[A-Za-z0-9_-]+$',
  [PATTERN_FORM]: '16–64 letters, digits, _ or -',
  description: "A long-lived id of the client's device (the web pages keep it in a cookie): a second account from one device is flagged",
});

export const CheckinBodySchema = withExamples(
  Type.Object({ session_id: Id('The session'), code: Code, device_id: Type.Optional(DeviceId) }, { additionalProperties: false }),
  { session_id: SESSION_ID, code: 'mE2v0aQx4kPq', device_id: 'dv_3mV2u0cQfE3kP1x9' },
);

export const CheckinSchema = Type.Object(
  {
    session_id: Type.String(),
    course_id: Type.String(),
    course_name: Type.String(),
    session_name: Type.String(),
    user_id: Type.String(),
    status: Type.Enum(['present', 'late', 'absent', 'excused']),
    method: Type.Enum(['qr', 'badge', 'manual']),
    flags: Type.Array(Type.String()),
    at: Type.String({ format: 'date-time', description: 'When the student arrived, by server time' }),
    already: Type.Boolean({ description: 'True: checked in before; this is that first check-in (nothing new recorded)' }),
  },
  { title: 'Checkin' },
);
export const CheckinResponseSchema = withExamples(CheckinSchema, {
  session_id: SESSION_ID,
  course_id: ID,
  course_name: 'Algebra I',
  session_name: 'Lecture 3',
  user_id: STUDENT_ID,
  status: 'present',
  method: 'qr',
  flags: [],
  at: AT,
  already: false,
});

export const ArrivalBodySchema = withExamples(
  Type.Object({ session_id: Id('The session'), code: Code, device_id: DeviceId }, { additionalProperties: false }),
  { session_id: SESSION_ID, code: 'mE2v0aQx4kPq', device_id: 'dv_3mV2u0cQfE3kP1x9' },
);
export const ArrivalResponseSchema = withExamples(
  Type.Object(
    {
      ticket: Type.String({ description: 'Single use, for POST /attendance/arrivals/redeem from the same device within 2 minutes' }),
      expires_at: Type.String({ format: 'date-time' }),
      session_id: Type.String(),
    },
    { title: 'Arrival' },
  ),
  { ticket: 'q0Vh7lq3dCk2yq5oZ3WkJ2lT9m1ZbGxN4d8yX0c7JpE', expires_at: '2030-01-07T09:04:11.000Z', session_id: SESSION_ID },
);
export const RedeemBodySchema = withExamples(
  Type.Object({ ticket: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' }), device_id: DeviceId }, { additionalProperties: false }),
  { ticket: 'q0Vh7lq3dCk2yq5oZ3WkJ2lT9m1ZbGxN4d8yX0c7JpE', device_id: 'dv_3mV2u0cQfE3kP1x9' },
);

export const MarkBodySchema = withExamples(
  Type.Object(
    {
      status: Type.Enum(['present', 'late', 'absent', 'excused']),
      note: Type.Optional(Type.Union([Type.String({ maxLength: 500, ...TEXT }), Type.Null()])),
    },
    { additionalProperties: false },
  ),
  { status: 'excused', note: "Doctor's appointment" },
);

export const BadgeScansBodySchema = withExamples(
  Type.Object(
    {
      scans: Type.Array(
        Type.Object(
          {
            data: Type.String({ minLength: 1, maxLength: 4096, description: 'The badge text read from the QR' }),
            scanned_at: Type.String({ format: 'date-time', description: "When the page scanned it (the queue's time when offline)" }),
          },
          { additionalProperties: false },
        ),
        { minItems: 1, maxItems: BADGE_BATCH_MAX },
      ),
    },
    { additionalProperties: false },
  ),
  { scans: [{ data: 'USER:6916cbc709d9eedb316de5c5|EMAIL:alice@example.com|ROLE:student|IAT:1763109000|EXP:1794645000|KID:k1|SIG:…', scanned_at: AT }] },
);
export const BadgeScansResponseSchema = withExamples(
  Type.Object(
    {
      results: Type.Array(
        Type.Object({
          outcome: Type.Enum(['accepted', 'duplicate', 'refused']),
          reason: Type.Optional(Type.String({ description: 'Why refused: a badge verdict (superseded, user_disabled, …), not_on_roster, outside_session' })),
          user_id: Type.Union([Type.String(), Type.Null()]),
          username: Type.Optional(Type.String()),
          status: Type.Optional(Type.String()),
          at: Type.Optional(Type.String({ format: 'date-time' })),
        }),
      ),
    },
    { title: 'BadgeScanResults' },
  ),
  { results: [{ outcome: 'accepted', user_id: STUDENT_ID, username: 'alice', status: 'present', at: AT }] },
);

const ReportRowSchema = Type.Object({
  user_id: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  username: Type.String(),
  email: Type.String(),
  status: Type.Union([Type.String(), Type.Null()], { description: 'present, late, absent, excused; null while the session runs and no check-in yet' }),
  at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  method: Type.Union([Type.String(), Type.Null()]),
  flags: Type.Array(Type.String()),
  note: Type.Union([Type.String(), Type.Null()]),
});
const ROW = { user_id: STUDENT_ID, name: 'Alice Ågren', username: 'alice', email: 'alice@example.com', status: 'present', at: AT, method: 'qr', flags: [], note: null };

export const ReportQuerySchema = defaultsOptional(
  Type.Object({ format: Type.Enum(['json', 'csv'], { default: 'json', description: 'json, or csv (RFC 4180, UTF-8 with a byte-order mark for Excel)' }) }),
);

export const SessionReportSchema = withExamples(
  Type.Object({ course: CourseSchema, session: SessionSchema, rows: Type.Array(ReportRowSchema) }, { title: 'SessionReport' }),
  { course: COURSE_EXAMPLE, session: SESSION_EXAMPLE, rows: [ROW] },
);
export const CourseReportSchema = withExamples(
  Type.Object(
    {
      course: CourseSchema,
      sessions: Type.Array(SessionSchema),
      students: Type.Array(
        Type.Object({ ...PersonSchema.properties, sessions: Type.Array(Type.Union([ReportRowSchema, Type.Null()]), { description: 'One per session, in order' }) }),
      ),
    },
    { title: 'CourseReport' },
  ),
  { course: COURSE_EXAMPLE, sessions: [SESSION_EXAMPLE], students: [{ ...PERSON, sessions: [ROW] }] },
);
export const MyAttendanceSchema = withExamples(
  Type.Object(
    {
      courses: Type.Array(
        Type.Object({
          course_id: Type.String(),
          name: Type.String(),
          code: Type.Union([Type.String(), Type.Null()]),
          sessions: Type.Array(
            Type.Object({
              session_id: Type.String(),
              name: Type.String(),
              starts_at: Type.String({ format: 'date-time' }),
              status: Type.Union([Type.String(), Type.Null()]),
              at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
              method: Type.Union([Type.String(), Type.Null()]),
            }),
          ),
        }),
      ),
    },
    { title: 'MyAttendance' },
  ),
  {
    courses: [
      {
        course_id: ID,
        name: 'Algebra I',
        code: 'MATH-101',
        sessions: [{ session_id: SESSION_ID, name: 'Lecture 3', starts_at: '2030-01-07T09:00:00.000Z', status: 'present', at: AT, method: 'qr' }],
      },
    ],
  },
);

export type CreateCourseBody = Static<typeof CreateCourseBodySchema>;
