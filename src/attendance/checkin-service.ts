/**
 * Checking in: by the projector's rotating code (signed in, or through an arrival ticket that a
 * sign-in completes), by a teacher scanning students' badges (the reverse flow, possibly synced
 * later from an offline queue), or marked by hand. Every rule is here, by the one injected clock:
 * the code's window, the session's state, the roster (or walk-ins in an open session), late after
 * the course's minutes, one check-in per student (a second scan answers the first), the shared
 * device flag or refusal, the limits per user and per session.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { AuditLog, RequestContext } from '../audit/audit-log.js';
import type { BadgeInvalidReason, BadgeVerifier } from '../qr/badge-verifier.js';
import type { AttendanceSession, Checkin, CheckinFlag, CheckinStatus, Course } from '../store/attendance-store.js';
import type { Store, User } from '../store/store.js';
import { attendanceErrors } from './attendance-errors.js';
import type { CourseService } from './course-service.js';
import { sessionState } from './course-service.js';
import { createLimiter, PER_SESSION, PER_USER } from './limits.js';
import type { LiveBus, LiveCheckin } from './live-bus.js';
import { checkCode } from './rotating-code.js';

/** An arrival ticket completes a check-in only within this long of the scan. */
export const TICKET_TTL_MS = 2 * 60_000;
/** Badge scans queued offline: the page's clock may run a little ahead of the server's. */
const BADGE_CLOCK_SLACK_MS = 60_000;
export const BADGE_BATCH_MAX = 200;
/** How long a live session is kept in memory between check-ins, and how many at most. */
const LIVE_CACHE_MS = 1000;
const LIVE_CACHE_MAX = 10_000;

export interface CheckinResult {
  /** False: the student had checked in already; `checkin` is that first one (no duplicate). */
  created: boolean;
  checkin: Checkin;
  course: Course;
  session: AttendanceSession;
}

export interface Arrival {
  ticket: string;
  expiresAt: Date;
  session: AttendanceSession;
}

export type BadgeOutcome =
  | { outcome: 'accepted' | 'duplicate'; user: User; checkin: Checkin }
  | { outcome: 'refused'; reason: BadgeInvalidReason | 'not_on_roster' | 'outside_session' | 'not_a_student'; user_id: string | null };

export interface CheckinService {
  /** A signed-in student with the code from the projector. */
  checkIn(user: User, sessionId: string, code: string, deviceId: string | null): Promise<CheckinResult>;
  /** Not signed in yet: records the arrival (server time) as a single-use ticket bound to this browser. */
  arrive(sessionId: string, code: string, deviceId: string): Promise<Arrival>;
  /** After sign-in: completes the ticket's check-in as of its arrival, from the same browser only. */
  redeem(user: User, ticket: string, deviceId: string | null): Promise<CheckinResult>;
  /** A teacher's badge scans (maybe queued offline), each re-verified here. */
  badgeScans(actor: User, courseId: string, sessionId: string, scans: { data: string; scannedAt: Date }[]): Promise<BadgeOutcome[]>;
  mark(
    actor: User,
    courseId: string,
    sessionId: string,
    userId: string,
    input: { status: CheckinStatus; note: string | null },
    context: RequestContext,
  ): Promise<Checkin>;
  /** A live row for lists and events. */
  liveRow(checkin: Checkin, user: User): LiveCheckin;
  /** Drops what is kept in memory of a session (it ended). */
  forget(sessionId: string): void;
}

const hashTicket = (ticket: string) => createHash('sha256').update(ticket).digest('hex');

export function createCheckinService(deps: {
  store: Store;
  courses: CourseService;
  badges: BadgeVerifier;
  bus: LiveBus;
  audit: AuditLog;
  clock: () => Date;
}): CheckinService {
  const { store, clock, bus } = deps;
  const attendance = store.attendance;
  const perUser = createLimiter(PER_USER);
  const perSession = createLimiter(PER_SESSION);

  function liveRow(checkin: Checkin, user: User): LiveCheckin {
    return {
      user_id: user.id,
      username: user.username,
      full_name: user.fullName,
      email: user.email,
      status: checkin.status,
      method: checkin.method,
      flags: checkin.flags,
      at: checkin.at.toISOString(),
      note: checkin.note,
    };
  }

  function publish(checkin: Checkin, user: User) {
    bus.publish({ type: 'checkin', sessionId: checkin.sessionId, checkin: liveRow(checkin, user), publishedAt: Date.now() });
  }

  function limit(userKey: string, sessionId: string) {
    const nowMs = clock().getTime();
    const wait = perUser.take(userKey, nowMs) ?? perSession.take(sessionId, nowMs);
    if (wait !== null) throw attendanceErrors.tooManyCheckins(wait);
  }

  /**
   * A live session and its course, kept a second: a class's burst reads them once, not once per
   * student. Ending a session forgets it here at once; another instance learns of the end through
   * the live bus, or within the second.
   */
  const live = new Map<string, { session: AttendanceSession; course: Course; until: number; roster: Promise<Map<string, boolean>> | null }>();
  function forget(sessionId: string) {
    live.delete(sessionId);
  }
  async function liveSession(sessionId: string, now: Date) {
    let found = live.get(sessionId);
    if (found === undefined || found.until <= Date.now()) {
      const session = await attendance.findSession(sessionId);
      if (session === null) throw attendanceErrors.sessionNotFound();
      const course = await attendance.findCourse(session.courseId);
      if (course === null) throw attendanceErrors.sessionNotFound();
      if (live.size >= LIVE_CACHE_MAX) live.clear();
      found = { session, course, until: Date.now() + LIVE_CACHE_MS, roster: null };
      live.set(sessionId, found);
      const unsubscribe = bus.subscribe(sessionId, (event) => {
        if (event.type === 'ended') forget(sessionId);
      });
      setTimeout(unsubscribe, LIVE_CACHE_MS).unref();
    }
    const { session, course } = found;
    const state = sessionState(session, now);
    if (state === 'ended') throw attendanceErrors.sessionEnded();
    if (state === 'scheduled') throw attendanceErrors.sessionNotStarted();
    return { session, course };
  }

  function verifyCode(session: AttendanceSession, course: Course, code: string, now: Date) {
    const check = checkCode(session.secret, code, now.getTime(), course.periodSeconds);
    if (check === 'expired') throw attendanceErrors.codeExpired();
    if (check === 'invalid') throw attendanceErrors.invalidCode();
  }

  /**
   * Whether the user is on the roster (and a walk-in): from the roster kept with the live session
   * for its second, else from the store, which decides (a student added a moment ago is found).
   */
  async function rosterEntry(sessionId: string, courseId: string, userId: string): Promise<{ walkIn: boolean } | null> {
    const cached = live.get(sessionId);
    if (cached !== undefined) {
      cached.roster ??= attendance.listRoster(courseId).then((entries) => new Map(entries.map((e) => [e.userId, e.walkIn])));
      const walkIn = (await cached.roster.catch(() => new Map<string, boolean>())).get(userId);
      if (walkIn !== undefined) return { walkIn };
    }
    return attendance.findRosterEntry(courseId, userId);
  }

  const statusAt = (course: Course, session: AttendanceSession, at: Date): CheckinStatus =>
    at.getTime() > session.startsAt.getTime() + course.lateAfterMinutes * 60_000 ? 'late' : 'present';

  /** The QR check-in proper, as of `at` (now, or a ticket's arrival). */
  async function record(user: User, course: Course, session: AttendanceSession, at: Date, deviceId: string | null): Promise<CheckinResult> {
    // No read of an earlier check-in first: the insert says whether there was one (a second scan
    // gets the first), one query less for each of a class's first scans.
    const flags: CheckinFlag[] = [];
    const onRoster = await rosterEntry(session.id, course.id, user.id);
    if (onRoster === null) {
      // Removed from the roster after checking in: their check-in still answers.
      const existing = await attendance.findCheckin(session.id, user.id);
      if (existing !== null) return { created: false, checkin: existing, course, session };
      if (!session.open) throw attendanceErrors.notOnRoster();
      await attendance.addToRoster([{ courseId: course.id, userId: user.id, walkIn: true, addedAt: at }]);
      flags.push('walk_in');
    } else if (onRoster.walkIn) flags.push('walk_in');
    if (deviceId !== null && (await attendance.otherUsersOfDevice(session.id, deviceId, user.id)).length > 0) {
      if (course.sharedDevicePolicy === 'refuse') throw attendanceErrors.sharedDevice();
      flags.push('shared_device');
    }
    const checkin: Checkin = {
      sessionId: session.id,
      userId: user.id,
      method: 'qr',
      status: statusAt(course, session, at),
      flags,
      at,
      deviceId,
      note: null,
      markedBy: null,
      recordedAt: clock(),
    };
    const result = await attendance.insertCheckin(checkin);
    if (!result.inserted) return { created: false, checkin: result.existing, course, session };
    publish(checkin, user);
    return { created: true, checkin, course, session };
  }

  return {
    liveRow,
    forget,

    async checkIn(user, sessionId, code, deviceId) {
      limit(user.id, sessionId);
      const now = clock();
      const { session, course } = await liveSession(sessionId, now);
      verifyCode(session, course, code, now);
      return record(user, course, session, now, deviceId);
    },

    async arrive(sessionId, code, deviceId) {
      // Nobody is signed in yet: the browser's device id stands for the user.
      limit(`device:${deviceId}`, sessionId);
      const now = clock();
      const { session, course } = await liveSession(sessionId, now);
      verifyCode(session, course, code, now);
      const ticket = randomBytes(32).toString('base64url');
      const expiresAt = new Date(now.getTime() + TICKET_TTL_MS);
      await store.oneTimeTokens.insert({
        hash: hashTicket(ticket),
        purpose: 'attendance_ticket',
        userId: null,
        createdAt: now,
        expiresAt,
        data: JSON.stringify({ session: session.id, at: now.getTime(), device: deviceId }),
      });
      return { ticket, expiresAt, session };
    },

    async redeem(user, ticket, deviceId) {
      const now = clock();
      const hash = hashTicket(ticket);
      const found = await store.oneTimeTokens.find(hash, 'attendance_ticket', now);
      if (found === null || found.data === null) throw attendanceErrors.invalidTicket();
      const data = JSON.parse(found.data) as { session: string; at: number; device: string };
      // Bound to the browser that scanned: a ticket copied into another browser is refused (and
      // left for its own browser, which may still complete it).
      if (deviceId === null || data.device !== deviceId) throw attendanceErrors.invalidTicket();
      if ((await store.oneTimeTokens.consume(hash, 'attendance_ticket', now)) === null) throw attendanceErrors.invalidTicket();
      limit(user.id, data.session);
      const session = await attendance.findSession(data.session);
      const course = session && (await attendance.findCourse(session.courseId));
      if (!session || !course) throw attendanceErrors.sessionNotFound();
      // The arrival was checked live when the ticket was made; the check-in is as of then.
      return record(user, course, session, new Date(data.at), deviceId);
    },

    async badgeScans(actor, courseId, sessionId, scans) {
      const { course, session } = await deps.courses.session(actor, courseId, sessionId);
      const now = clock();
      const windowEnd = Math.min(session.endedAt?.getTime() ?? Infinity, session.endsAt.getTime(), now.getTime() + BADGE_CLOCK_SLACK_MS);
      const outcomes: BadgeOutcome[] = [];
      for (const scan of scans) {
        const verdict = await deps.badges.verify(scan.data);
        if (!verdict.valid) {
          outcomes.push({ outcome: 'refused', reason: verdict.reason ?? 'malformed', user_id: verdict.user_id });
          continue;
        }
        const user = verdict.user_id === null ? null : await store.findUserById(verdict.user_id);
        if (user === null) {
          outcomes.push({ outcome: 'refused', reason: 'user_not_found', user_id: verdict.user_id });
          continue;
        }
        if ((await attendance.findRosterEntry(course.id, user.id)) === null) {
          outcomes.push({ outcome: 'refused', reason: 'not_on_roster', user_id: user.id });
          continue;
        }
        const t = scan.scannedAt.getTime();
        if (Number.isNaN(t) || t < session.startsAt.getTime() || t > windowEnd) {
          outcomes.push({ outcome: 'refused', reason: 'outside_session', user_id: user.id });
          continue;
        }
        const at = new Date(Math.min(t, now.getTime()));
        const checkin: Checkin = {
          sessionId: session.id,
          userId: user.id,
          method: 'badge',
          status: statusAt(course, session, at),
          flags: [],
          at,
          deviceId: null,
          note: null,
          markedBy: actor.id,
          recordedAt: now,
        };
        const result = await attendance.insertCheckin(checkin);
        if (result.inserted) {
          publish(checkin, user);
          outcomes.push({ outcome: 'accepted', user, checkin });
        } else outcomes.push({ outcome: 'duplicate', user, checkin: result.existing });
      }
      return outcomes;
    },

    async mark(actor, courseId, sessionId, userId, input, context) {
      const { course, session } = await deps.courses.session(actor, courseId, sessionId);
      const user = await store.findUserById(userId);
      if (user === null || (await attendance.findRosterEntry(course.id, userId)) === null) throw attendanceErrors.studentNotOnRoster();
      const now = clock();
      const existing = await attendance.findCheckin(session.id, userId);
      const checkin: Checkin = {
        sessionId: session.id,
        userId,
        method: 'manual',
        status: input.status,
        flags: existing?.flags ?? [],
        at: existing?.at ?? now,
        deviceId: existing?.deviceId ?? null,
        note: input.note,
        markedBy: actor.id,
        recordedAt: now,
      };
      await attendance.upsertCheckin(checkin);
      await deps.audit.record('attendance.marked', {
        userId,
        actorId: actor.id,
        context,
        detail: { course_id: course.id, session_id: session.id, status: input.status, note: input.note, before: existing?.status ?? null },
      });
      publish(checkin, user);
      return checkin;
    },
  };
}
