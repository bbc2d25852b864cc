/**
 * A teacher's live view of a session as a stream of events, for server-sent events (the API's
 * and the pages'): a snapshot on connect (read after subscribing, so nothing falls between), each
 * check-in or mark as it happens on any instance, the session's end (ended by the teacher, or its
 * scheduled end passing), and for the projector the
 * rotating code at each step boundary, computed here: the projector never computes it.
 */
import type { Store, User } from '../store/store.js';
import type { CheckinService } from './checkin-service.js';
import type { CourseService } from './course-service.js';
import { sessionState } from './course-service.js';
import type { LiveBus, LiveCheckin } from './live-bus.js';
import { currentCode } from './rotating-code.js';

export interface CodeView {
  code: string;
  url: string;
  step: number;
  changes_at: string;
  period_seconds: number;
}

export type StreamEvent =
  | { event: 'snapshot'; data: { checkins: LiveCheckin[]; count: number; state: string } }
  | { event: 'checkin'; data: LiveCheckin & { count: number } }
  | { event: 'code'; data: CodeView & { count: number } }
  | { event: 'ended'; data: { count: number } };

export interface LiveStreams {
  /** The link the projector's QR holds: the service's own check-in page. */
  codeView(secret: string, sessionId: string, periodSeconds: number, linkBase: string): CodeView;
  /** Opens the stream (404 unless the actor teaches the course); returns its close. */
  open(
    actor: User,
    courseId: string,
    sessionId: string,
    options: { code: boolean; linkBase: string },
    send: (event: StreamEvent) => void,
  ): Promise<() => void>;
}

/** The longest wait between two looks at whether a session's scheduled end has come. */
const END_RECHECK_MS = 60_000;

export const checkinLink = (linkBase: string, sessionId: string, code: string) =>
  `${linkBase}/attend/${sessionId}?c=${encodeURIComponent(code)}`;

export function createLiveStreams(deps: {
  store: Store;
  courses: CourseService;
  checkins: CheckinService;
  bus: LiveBus;
  clock: () => Date;
}): LiveStreams {
  const { store, bus, clock } = deps;

  function codeView(secret: string, sessionId: string, periodSeconds: number, linkBase: string): CodeView {
    const current = currentCode(secret, clock().getTime(), periodSeconds);
    return {
      code: current.code,
      url: checkinLink(linkBase, sessionId, current.code),
      step: current.step,
      changes_at: current.changesAt.toISOString(),
      period_seconds: periodSeconds,
    };
  }

  return {
    codeView,

    async open(actor, courseId, sessionId, options, send) {
      const { course, session } = await deps.courses.session(actor, courseId, sessionId);
      const present = new Set<string>();
      const counted = (row: LiveCheckin) => row.status === 'present' || row.status === 'late';
      let timer: NodeJS.Timeout | undefined;
      let endTimer: NodeJS.Timeout | undefined;
      let closed = false;
      const close = () => {
        closed = true;
        unsubscribe();
        if (timer !== undefined) clearTimeout(timer);
        if (endTimer !== undefined) clearTimeout(endTimer);
      };
      const unsubscribe = bus.subscribe(session.id, (event) => {
        if (closed) return;
        if (event.type === 'ended') {
          send({ event: 'ended', data: { count: present.size } });
          close();
          return;
        }
        if (counted(event.checkin)) present.add(event.checkin.user_id);
        else present.delete(event.checkin.user_id);
        send({ event: 'checkin', data: { ...event.checkin, count: present.size } });
      });

      const checkins = await store.attendance.listCheckins(session.id);
      const users = new Map(
        (await Promise.all(checkins.map((c) => store.findUserById(c.userId)))).flatMap((u) => (u === null ? [] : [[u.id, u] as const])),
      );
      const rows = checkins.flatMap((c) => {
        const user = users.get(c.userId);
        return user === undefined ? [] : [deps.checkins.liveRow(c, user)];
      });
      for (const row of rows) if (counted(row)) present.add(row.user_id);
      const state = sessionState(session, clock());
      send({ event: 'snapshot', data: { checkins: rows, count: present.size, state } });
      if (state === 'ended') {
        send({ event: 'ended', data: { count: present.size } });
        close();
        return close;
      }

      // The scheduled end, by the server's clock: nobody has to press "End" for the lists and the
      // projector to learn it. Re-checked at least every minute (a clock moved by tests).
      const watchEnd = () => {
        if (closed) return;
        const left = session.endsAt.getTime() - clock().getTime();
        if (left <= 0) {
          send({ event: 'ended', data: { count: present.size } });
          close();
          return;
        }
        endTimer = setTimeout(watchEnd, Math.min(left + 20, END_RECHECK_MS));
      };
      watchEnd();

      if (options.code) {
        const tick = () => {
          if (closed) return;
          const view = codeView(session.secret, session.id, course.periodSeconds, options.linkBase);
          send({ event: 'code', data: { ...view, count: present.size } });
          // The next step by the server's clock; a little after the boundary, never before it.
          const wait = Math.max(50, new Date(view.changes_at).getTime() - clock().getTime() + 20);
          timer = setTimeout(tick, wait);
        };
        tick();
      }
      return close;
    },
  };
}
