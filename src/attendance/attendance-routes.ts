/**
 * The attendance API: courses, rosters and sessions for teachers (under /courses), check-in for
 * students (under /attendance). Roles are enforced in the services: a course that is not the
 * teacher's answers 404 as if it did not exist. Check-in is limited per user and per session in
 * the service, never per IP: a lecture hall is one NAT address.
 */
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { type Authenticator, currentUser } from '../auth/authenticate.js';
import { requestContext } from '../http/request-context.js';
import { noContent, response } from '../http/doc-schemas.js';
import { errorResponses } from '../http/error-schemas.js';
import {
  ArrivalBodySchema,
  ArrivalResponseSchema,
  BadgeScansBodySchema,
  BadgeScansResponseSchema,
  CheckinBodySchema,
  CheckinResponseSchema,
  CodeResponseSchema,
  CourseListSchema,
  CourseParamsSchema,
  CourseReportSchema,
  CourseResponseSchema,
  CreateCourseBodySchema,
  CreateSessionBodySchema,
  MarkBodySchema,
  MarkParamsSchema,
  MyAttendanceSchema,
  RedeemBodySchema,
  ReportQuerySchema,
  RosterAddedSchema,
  RosterBodySchema,
  RosterSchema,
  SessionListSchema,
  SessionParamsSchema,
  SessionReportSchema,
  SessionResponseSchema,
  StudentParamsSchema,
  TeachersBodySchema,
  TeachersResponseSchema,
  UpdateCourseBodySchema,
} from './attendance-schemas.js';
import { checkinJson, courseJson, courseReportJson, personJson, sessionJson, sessionReportJson } from './attendance-views.js';
import type { CheckinService } from './checkin-service.js';
import { type CourseService, ROSTER_CSV_MAX_BYTES } from './course-service.js';
import type { LiveStreams } from './live-stream.js';
import type { ReportService } from './reports.js';
import type { EventStreams } from './sse.js';

const bearer = [{ bearerAuth: [] }];
const TAGS = ['attendance'];
const COURSE_404 = { 404: ['COURSE_NOT_FOUND'] } as const;
const SESSION_404 = { 404: ['COURSE_NOT_FOUND', 'ATTENDANCE_SESSION_NOT_FOUND'] } as const;

export interface AttendanceRouteDeps {
  courses: CourseService;
  checkins: CheckinService;
  reports: ReportService;
  live: LiveStreams;
  streams: EventStreams;
  auth: Authenticator;
  clock: () => Date;
  /** PUBLIC_URL, when set: the QR links point there. */
  publicUrl: string | null;
}

/** Where the projector's QR links point: PUBLIC_URL, else the origin the teacher's own request came to. */
export function linkBase(publicUrl: string | null, request: FastifyRequest): string {
  return publicUrl ?? `${request.protocol}://${request.host}`;
}

export function attendanceRoutes(deps: AttendanceRouteDeps): FastifyPluginAsyncTypebox {
  const { courses, checkins, reports, live, auth, clock } = deps;
  return async (app) => {
    app.addHook('preClose', (done) => {
      deps.streams.endAll();
      done();
    });

    app.post(
      '/courses',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: 'Create a course',
          description: 'Teachers and admins; the creator owns the course and is its first teacher.',
          security: bearer,
          body: CreateCourseBodySchema,
          response: { 201: response('The new course', CourseResponseSchema), ...errorResponses({ 403: ['TEACHER_REQUIRED'] }) },
        },
      },
      async (request, reply) => {
        const b = request.body;
        const course = await courses.create(currentUser(request), {
          name: b.name,
          code: b.code ?? null,
          periodSeconds: b.period_seconds,
          lateAfterMinutes: b.late_after_minutes,
          sharedDevicePolicy: b.shared_device,
        });
        return reply.code(201).send(courseJson(course));
      },
    );

    app.get(
      '/courses',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: 'The courses you teach (every course for an admin)',
          description: 'A student gets an empty list: their own attendance is at GET /attendance/me.',
          security: bearer,
          response: { 200: response('The courses, by name', CourseListSchema) },
        },
      },
      async (request) => ({ courses: (await courses.list(currentUser(request))).map(courseJson) }),
    );

    app.get(
      '/courses/:course_id',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: 'A course you teach',
          description: "404 for a course that is not yours, as for one that does not exist: ids cannot be probed.",
          security: bearer,
          params: CourseParamsSchema,
          response: { 200: response('The course', CourseResponseSchema), ...errorResponses(COURSE_404) },
        },
      },
      async (request) => courseJson(await courses.get(currentUser(request), request.params.course_id)),
    );

    app.patch(
      '/courses/:course_id',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: 'Change a course',
          description: 'Name, code, the rotating code period (5–60 s), late-after minutes, the shared-device policy.',
          security: bearer,
          params: CourseParamsSchema,
          body: UpdateCourseBodySchema,
          response: { 200: response('The course as changed', CourseResponseSchema), ...errorResponses(COURSE_404) },
        },
      },
      async (request) => {
        const b = request.body;
        const course = await courses.update(currentUser(request), request.params.course_id, {
          name: b.name,
          code: b.code,
          periodSeconds: b.period_seconds,
          lateAfterMinutes: b.late_after_minutes,
          sharedDevicePolicy: b.shared_device,
        });
        return courseJson(course);
      },
    );

    app.get(
      '/courses/:course_id/teachers',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: "A course's teachers",
          description: 'Everyone who may run its sessions and see its records.',
          security: bearer,
          params: CourseParamsSchema,
          response: { 200: response('The teachers', TeachersResponseSchema), ...errorResponses(COURSE_404) },
        },
      },
      async (request) => ({ teachers: (await courses.teachers(currentUser(request), request.params.course_id)).map(personJson) }),
    );

    app.put(
      '/courses/:course_id/teachers',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: "Replace a course's teachers (admins)",
          description: 'Ids, emails or usernames of teachers or admins; any other name refuses the change (400 `INVALID_TEACHERS`). Audited.',
          security: bearer,
          params: CourseParamsSchema,
          body: TeachersBodySchema,
          response: {
            200: response('The teachers now', TeachersResponseSchema),
            ...errorResponses({ 400: ['INVALID_TEACHERS'], 403: ['TEACHER_REQUIRED'], ...COURSE_404 }),
          },
        },
      },
      async (request) => ({
        teachers: (await courses.setTeachers(currentUser(request), request.params.course_id, request.body.teachers, requestContext(request))).map(
          personJson,
        ),
      }),
    );

    app.get(
      '/courses/:course_id/roster',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: "A course's roster",
          description: 'The students who may check in; `walk_in` marks those who joined by checking in to an open session.',
          security: bearer,
          params: CourseParamsSchema,
          response: { 200: response('The roster', RosterSchema), ...errorResponses(COURSE_404) },
        },
      },
      async (request) => ({
        students: (await courses.roster(currentUser(request), request.params.course_id)).map(({ entry, user }) => ({
          ...personJson(user),
          walk_in: entry.walkIn,
          added_at: entry.addedAt.toISOString(),
        })),
      }),
    );

    app.post(
      '/courses/:course_id/roster',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: 'Add students to the roster',
          description:
            'By email or username. All or nothing: any name that is no (enabled) user refuses the whole list with ' +
            '400 `UNKNOWN_STUDENTS`, each one listed in `unknown` with its position.',
          security: bearer,
          params: CourseParamsSchema,
          body: RosterBodySchema,
          response: { 200: response('How many were added', RosterAddedSchema), ...errorResponses({ 400: ['UNKNOWN_STUDENTS', 'INVALID_CSV'], ...COURSE_404 }) },
        },
      },
      async (request) => courses.addStudents(currentUser(request), request.params.course_id, request.body.students),
    );

    await app.register(async (plain) => {
      const scope = plain.withTypeProvider<TypeBoxTypeProvider>();
      scope.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: ROSTER_CSV_MAX_BYTES }, (_request, body, done) => done(null, body));
      scope.post(
        '/courses/:course_id/roster/import',
        {
          onRequest: auth.required,
          bodyLimit: ROSTER_CSV_MAX_BYTES,
          schema: {
            tags: TAGS,
            summary: 'Import a roster from CSV',
            description:
              `A \`text/csv\` body of at most ${ROSTER_CSV_MAX_BYTES / 1024} KiB: one student a row, by email or username ` +
              '(the column headed `email`, `username` or `login`; without a header, the first column). Commas or ' +
              'semicolons. All or nothing: unknown rows are reported (400 `UNKNOWN_STUDENTS` with their line numbers) ' +
              'and nothing is imported; 413 for a larger file.',
            security: bearer,
            params: CourseParamsSchema,
            body: { content: { 'text/csv': { schema: { type: 'string', description: 'The CSV' } } } },
            response: {
              200: response('How many were added', RosterAddedSchema),
              ...errorResponses({ 400: ['UNKNOWN_STUDENTS', 'INVALID_CSV'], 413: ['PAYLOAD_TOO_LARGE'], ...COURSE_404 }),
            },
          },
        },
        async (request) => courses.importCsv(currentUser(request), request.params.course_id, String(request.body)),
      );
    });

    app.delete(
      '/courses/:course_id/roster/:user_id',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: 'Remove a student from the roster',
          description: 'Their past check-ins stay in the reports.',
          security: bearer,
          params: StudentParamsSchema,
          response: { 204: noContent('Removed'), ...errorResponses({ 404: ['COURSE_NOT_FOUND', 'STUDENT_NOT_ON_ROSTER'] }) },
        },
      },
      async (request, reply) => {
        await courses.removeStudent(currentUser(request), request.params.course_id, request.params.user_id);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/courses/:course_id/sessions',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: 'Schedule a session, or start one now',
          description:
            'Without `starts_at` it starts now; without `ends_at` it lasts 90 minutes (at most 12 hours). Roster-only ' +
            'unless `open`. 400 `INVALID_SCHEDULE` for an end before the start or in the past.',
          security: bearer,
          params: CourseParamsSchema,
          body: CreateSessionBodySchema,
          response: { 201: response('The session', SessionResponseSchema), ...errorResponses({ 400: ['INVALID_SCHEDULE'], ...COURSE_404 }) },
        },
      },
      async (request, reply) => {
        const b = request.body;
        const session = await courses.createSession(currentUser(request), request.params.course_id, {
          name: b.name,
          startsAt: b.starts_at === undefined ? undefined : new Date(b.starts_at),
          endsAt: b.ends_at === undefined ? undefined : new Date(b.ends_at),
          open: b.open,
        });
        return reply.code(201).send(sessionJson(session, clock()));
      },
    );

    app.get(
      '/courses/:course_id/sessions',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: "A course's sessions",
          description: 'Newest start first.',
          security: bearer,
          params: CourseParamsSchema,
          response: { 200: response('The sessions', SessionListSchema), ...errorResponses(COURSE_404) },
        },
      },
      async (request) => {
        const now = clock();
        return { sessions: (await courses.sessions(currentUser(request), request.params.course_id)).map((s) => sessionJson(s, now)) };
      },
    );

    app.get(
      '/courses/:course_id/sessions/:session_id',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: 'A session',
          description: 'With its state: scheduled, live or ended.',
          security: bearer,
          params: SessionParamsSchema,
          response: { 200: response('The session', SessionResponseSchema), ...errorResponses(SESSION_404) },
        },
      },
      async (request) => {
        const { session } = await courses.session(currentUser(request), request.params.course_id, request.params.session_id);
        return sessionJson(session, clock());
      },
    );

    app.post(
      '/courses/:course_id/sessions/:session_id/end',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: 'End a session now',
          description: 'Its codes stop working at once; live lists get an `ended` event. 409 `SESSION_ENDED` if it had ended.',
          security: bearer,
          params: SessionParamsSchema,
          response: { 200: response('The ended session', SessionResponseSchema), ...errorResponses({ ...SESSION_404, 409: ['SESSION_ENDED'] }) },
        },
      },
      async (request) => {
        const session = await courses.endSession(currentUser(request), request.params.course_id, request.params.session_id);
        return sessionJson(session, clock());
      },
    );

    app.get(
      '/courses/:course_id/sessions/:session_id/code',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: "The session's current rotating code",
          description:
            "An HMAC of the server's time step under the session's secret: every projector tab shows the same code. " +
            'Accepted in its own period and the next one only. The `url` is what the QR holds.',
          security: bearer,
          params: SessionParamsSchema,
          response: { 200: response('The code now', CodeResponseSchema), ...errorResponses(SESSION_404) },
        },
      },
      async (request) => {
        const { course, session } = await courses.session(currentUser(request), request.params.course_id, request.params.session_id);
        return live.codeView(session.secret, session.id, course.periodSeconds, linkBase(deps.publicUrl, request));
      },
    );

    app.get(
      '/courses/:course_id/sessions/:session_id/events',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: 'Live events of a session (server-sent events)',
          description:
            '`text/event-stream`: `snapshot` (every check-in so far) on connect, then `checkin` for each check-in or mark ' +
            'from any instance, `ended` when the session ends, and with `?code=1` the rotating `code` at each change.',
          security: bearer,
          params: SessionParamsSchema,
          querystring: { type: 'object', properties: { code: { type: 'string', enum: ['0', '1'], description: '1: send the rotating code too' } } },
          response: {
            200: { description: 'The event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
            ...errorResponses(SESSION_404),
          },
        },
      },
      async (request, reply) => {
        const user = currentUser(request);
        const { course_id, session_id } = request.params;
        const withCode = (request.query as { code?: string }).code === '1';
        await deps.streams.serve(request, reply, (send) =>
          live.open(user, course_id, session_id, { code: withCode, linkBase: linkBase(deps.publicUrl, request) }, send),
        );
      },
    );

    app.put(
      '/courses/:course_id/sessions/:session_id/marks/:user_id',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: 'Mark a student by hand',
          description: 'present, late, absent or excused, with a note; replaces any check-in of theirs (method `manual`). Audited with who and when.',
          security: bearer,
          params: MarkParamsSchema,
          body: MarkBodySchema,
          response: {
            200: response('The mark', CheckinResponseSchema),
            ...errorResponses({ 404: ['COURSE_NOT_FOUND', 'ATTENDANCE_SESSION_NOT_FOUND', 'STUDENT_NOT_ON_ROSTER'] }),
          },
        },
      },
      async (request) => {
        const actor = currentUser(request);
        const { course_id, session_id, user_id } = request.params;
        const checkin = await checkins.mark(actor, course_id, session_id, user_id, { status: request.body.status, note: request.body.note ?? null }, requestContext(request));
        const { course, session } = await courses.session(actor, course_id, session_id);
        return checkinJson({ created: true, checkin, course, session });
      },
    );

    app.post(
      '/courses/:course_id/sessions/:session_id/badge-scans',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: "Check in students by their badges (a teacher's scans, maybe queued offline)",
          description:
            'Each badge is verified again here (signature, expiry, superseded, disabled user), must be on the roster, and its ' +
            "`scanned_at` must fall inside the session's window (start to end); it is the check-in's time. One result per " +
            'scan, in order: `accepted`, `duplicate` (checked in before: nothing new) or `refused` with a `reason`.',
          security: bearer,
          params: SessionParamsSchema,
          body: BadgeScansBodySchema,
          response: { 200: response('One result per scan', BadgeScansResponseSchema), ...errorResponses(SESSION_404) },
        },
      },
      async (request) => {
        const outcomes = await checkins.badgeScans(
          currentUser(request),
          request.params.course_id,
          request.params.session_id,
          request.body.scans.map((s) => ({ data: s.data, scannedAt: new Date(s.scanned_at) })),
        );
        return {
          results: outcomes.map((o) =>
            o.outcome === 'refused'
              ? { outcome: o.outcome, reason: o.reason, user_id: o.user_id }
              : { outcome: o.outcome, user_id: o.user.id, username: o.user.username, status: o.checkin.status, at: o.checkin.at.toISOString() },
          ),
        };
      },
    );

    app.get(
      '/courses/:course_id/sessions/:session_id/report',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: "A session's attendance (JSON or CSV)",
          description:
            'A row per student: name, username, email, status, time, method (qr, badge, manual), flags. `?format=csv`: ' +
            'RFC 4180 with a UTF-8 byte-order mark (Excel reads non-Latin names right); cells that would start a formula are prefixed with `\'`.',
          security: bearer,
          params: SessionParamsSchema,
          querystring: ReportQuerySchema,
          response: {
            200: {
              description: 'The report',
              content: { 'application/json': { schema: SessionReportSchema, example: (SessionReportSchema as { examples?: unknown[] }).examples?.[0] }, 'text/csv': { schema: { type: 'string' } } },
            },
            ...errorResponses(SESSION_404),
          },
        },
      },
      async (request, reply) => {
        const report = await reports.session(currentUser(request), request.params.course_id, request.params.session_id);
        if (request.query.format === 'csv') {
          const name = `attendance-${report.session.startsAt.toISOString().slice(0, 10)}-${report.session.id}.csv`;
          return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}"`).send(reports.sessionCsv(report));
        }
        return reply.type('application/json; charset=utf-8').send(sessionReportJson(report, clock()));
      },
    );

    app.get(
      '/courses/:course_id/report',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: "A course's attendance, students × sessions (JSON or CSV)",
          description: 'One row per student, one column per session (oldest first). `?format=csv` as for a session report.',
          security: bearer,
          params: CourseParamsSchema,
          querystring: ReportQuerySchema,
          response: {
            200: {
              description: 'The report',
              content: { 'application/json': { schema: CourseReportSchema, example: (CourseReportSchema as { examples?: unknown[] }).examples?.[0] }, 'text/csv': { schema: { type: 'string' } } },
            },
            ...errorResponses(COURSE_404),
          },
        },
      },
      async (request, reply) => {
        const report = await reports.course(currentUser(request), request.params.course_id);
        if (request.query.format === 'csv') {
          return reply
            .type('text/csv; charset=utf-8')
            .header('content-disposition', `attachment; filename="attendance-${report.course.id}.csv"`)
            .send(reports.courseCsv(report));
        }
        return reply.type('application/json; charset=utf-8').send(courseReportJson(report, clock()));
      },
    );

    const checkinErrors = {
      400: ['INVALID_CODE', 'CODE_EXPIRED'],
      403: ['NOT_ON_ROSTER'],
      404: ['ATTENDANCE_SESSION_NOT_FOUND'],
      409: ['SESSION_ENDED', 'SESSION_NOT_STARTED', 'SHARED_DEVICE'],
      429: ['RATE_LIMITED'],
    } as const;

    app.post(
      '/attendance/check-in',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: "Check in with the projector's code",
          description:
            'The code of the QR link (`c=`), valid in its own period and the next. `present` or `late` (after the course\'s ' +
            'late-after minutes from the start). A second check-in answers the first with `already: true` (200, no duplicate). ' +
            'With a `device_id`, a second account from the same device is flagged `shared_device` (or refused, per course). ' +
            'Limited per user and per session.',
          security: bearer,
          body: CheckinBodySchema,
          response: { 200: response('Checked in (or had been)', CheckinResponseSchema), ...errorResponses(checkinErrors) },
        },
      },
      async (request) =>
        checkinJson(await checkins.checkIn(currentUser(request), request.body.session_id, request.body.code, request.body.device_id ?? null)),
    );

    app.post(
      '/attendance/arrivals',
      {
        schema: {
          tags: TAGS,
          summary: 'Record a scan before signing in',
          description:
            'For a student not signed in yet: the code is checked now, by server time, and a single-use ticket records the ' +
            'arrival. After signing in, POST /attendance/arrivals/redeem from the same device within 2 minutes checks in as of ' +
            'the arrival. Limited per device and per session.',
          body: ArrivalBodySchema,
          response: {
            201: response('The ticket', ArrivalResponseSchema),
            ...errorResponses({ 400: ['INVALID_CODE', 'CODE_EXPIRED'], 404: ['ATTENDANCE_SESSION_NOT_FOUND'], 409: ['SESSION_ENDED', 'SESSION_NOT_STARTED'], 429: ['RATE_LIMITED'], 503: ['DATABASE_UNAVAILABLE'] }),
          },
        },
      },
      async (request, reply) => {
        const arrival = await checkins.arrive(request.body.session_id, request.body.code, request.body.device_id);
        return reply.code(201).send({ ticket: arrival.ticket, expires_at: arrival.expiresAt.toISOString(), session_id: arrival.session.id });
      },
    );

    app.post(
      '/attendance/arrivals/redeem',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: 'Complete a check-in recorded before signing in',
          description:
            'The ticket of POST /attendance/arrivals, from the device that made it, within 2 minutes: checks in as of the arrival. ' +
            'Unknown, used, expired or another device\'s ticket: 400 `INVALID_TICKET`.',
          security: bearer,
          body: RedeemBodySchema,
          response: {
            200: response('Checked in (or had been)', CheckinResponseSchema),
            ...errorResponses({ ...checkinErrors, 400: ['INVALID_TICKET'] }),
          },
        },
      },
      async (request) => checkinJson(await checkins.redeem(currentUser(request), request.body.ticket, request.body.device_id)),
    );

    app.get(
      '/attendance/me',
      {
        onRequest: auth.required,
        schema: {
          tags: TAGS,
          summary: 'Your own attendance, per course',
          description: 'Every session that has started of each course whose roster you are on, with your status.',
          security: bearer,
          response: { 200: response('Your attendance', MyAttendanceSchema) },
        },
      },
      async (request) => ({
        courses: (await reports.mine(currentUser(request))).map((r) => ({
          course_id: r.course.id,
          name: r.course.name,
          code: r.course.code,
          sessions: r.sessions.map((s) => ({
            session_id: s.session.id,
            name: s.session.name,
            starts_at: s.session.startsAt.toISOString(),
            status: s.status,
            at: s.at,
            method: s.method,
          })),
        })),
      }),
    );
  };
}
