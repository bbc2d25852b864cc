/**
 * The attendance capability, assembled: its services over the store, the live bus (in memory, or
 * Redis pub/sub with REDIS_URL), the event streams, and its routes. app.ts and the web front take
 * what they need from here.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { AuditLog } from '../audit/audit-log.js';
import type { Authenticator } from '../auth/authenticate.js';
import type { BadgeVerifier } from '../qr/badge-verifier.js';
import type { Store } from '../store/store.js';
import type { UserService } from '../users/user-service.js';
import { attendanceRoutes } from './attendance-routes.js';
import { type CheckinService, createCheckinService } from './checkin-service.js';
import { type CourseService, createCourseService } from './course-service.js';
import { createMemoryBus, createRedisBus, type LiveBus } from './live-bus.js';
import { createLiveStreams, type LiveStreams } from './live-stream.js';
import { createReportService, type ReportService } from './reports.js';
import { createEventStreams, type EventStreams } from './sse.js';

export interface Attendance {
  courses: CourseService;
  checkins: CheckinService;
  reports: ReportService;
  live: LiveStreams;
  streams: EventStreams;
  bus: LiveBus;
  clock: () => Date;
  routes(deps: { auth: Authenticator; publicUrl: string | null }): ReturnType<typeof attendanceRoutes>;
  close(): Promise<void>;
}

export async function createAttendance(deps: {
  store: Store;
  audit: AuditLog;
  users: Pick<UserService, 'findByLogin'>;
  badges: BadgeVerifier;
  /** The one clock of every attendance rule (tests move it); the system's by default. */
  clock?: () => Date;
  redisUrl: string | null;
  log: FastifyBaseLogger;
}): Promise<Attendance> {
  const clock = deps.clock ?? (() => new Date());
  const bus = deps.redisUrl === null ? createMemoryBus() : await createRedisBus(deps.redisUrl, deps.log);
  let checkinsRef: CheckinService | null = null;
  const courses = createCourseService({
    store: deps.store,
    audit: deps.audit,
    clock,
    findByLogin: (login) => deps.users.findByLogin(login),
    onSessionEnded: (sessionId) => {
      checkinsRef?.forget(sessionId);
      bus.publish({ type: 'ended', sessionId, publishedAt: Date.now() });
    },
  });
  const checkins = createCheckinService({ store: deps.store, courses, badges: deps.badges, bus, audit: deps.audit, clock });
  checkinsRef = checkins;
  const reports = createReportService({ store: deps.store, courses, clock });
  const live = createLiveStreams({ store: deps.store, courses, checkins, bus, clock });
  const streams = createEventStreams();
  return {
    courses,
    checkins,
    reports,
    live,
    streams,
    bus,
    clock,
    routes: ({ auth, publicUrl }) => attendanceRoutes({ courses, checkins, reports, live, streams, auth, clock, publicUrl }),
    async close() {
      streams.endAll();
      await bus.close();
    },
  };
}
