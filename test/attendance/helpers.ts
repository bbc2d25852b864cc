/**
 * Attendance test helpers: users made straight in the store with tokens signed by the app's own
 * keys (no password hashing: a test of 300 students must not spend a minute on argon2), a course
 * with its roster and a live session, and the clock moved to the start of a code period.
 */
import type { FastifyInstance } from 'fastify';
import { createTokenService } from '../../src/auth/tokens/tokens.js';
import type { Role } from '../../src/store/store.js';
import { newId } from '../../src/users/ids.js';
import { bearer, type TestApp } from '../helpers/app.js';

export interface Person {
  id: string;
  username: string;
  email: string;
  token: string;
  headers: { authorization: string };
}

let sequence = 0;

export function personMaker(t: TestApp) {
  const tokens = createTokenService({
    keys: t.keys,
    ttlSeconds: 3600,
    issuer: t.config.jwt.issuer,
    audience: t.config.jwt.audience,
  });
  return async function person(role: Role = 'student', fullName: string | null = null): Promise<Person> {
    sequence += 1;
    const tag = `${Date.now().toString(36)}${sequence}`;
    const user = await t.store.insertUser({
      id: newId(),
      username: `${role}_${tag}`,
      email: `${role}_${tag}@example.com`,
      // Never checked: these users sign in by token only.
      passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
      fullName: fullName ?? `${role} ${tag}`,
      role,
      createdAt: new Date(),
    });
    const { token } = await tokens.issue({ id: user.id, role, tokenVersion: 0 });
    return { id: user.id, username: user.username, email: user.email, token, headers: bearer(token) };
  };
}

export async function json<T = Record<string, unknown>>(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  who: Person | null,
  payload?: unknown,
): Promise<{ status: number; body: T; raw: string; headers: Record<string, unknown> }> {
  const res = await app.inject({
    method,
    url,
    headers: who === null ? {} : who.headers,
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  });
  let body: unknown = null;
  try {
    body = res.json();
  } catch {
    body = null;
  }
  return { status: res.statusCode, body: body as T, raw: res.body, headers: res.headers };
}

/** A course of `teacher` with `students` on its roster and a session that started now. */
export async function liveCourse(
  t: TestApp,
  teacher: Person,
  students: Person[],
  options: { course?: Record<string, unknown>; session?: Record<string, unknown> } = {},
) {
  const course = await json<{ id: string }>(t.app, 'POST', '/courses', teacher, { name: 'Algebra', ...options.course });
  if (course.status !== 201) throw new Error(`course: ${course.raw}`);
  if (students.length > 0) {
    const added = await json(t.app, 'POST', `/courses/${course.body.id}/roster`, teacher, { students: students.map((s) => s.email) });
    if (added.status !== 200) throw new Error(`roster: ${added.raw}`);
  }
  const session = await json<{ id: string }>(t.app, 'POST', `/courses/${course.body.id}/sessions`, teacher, { name: 'Monday', ...options.session });
  if (session.status !== 201) throw new Error(`session: ${session.raw}`);
  return { courseId: course.body.id, sessionId: session.body.id };
}

export async function currentCode(t: TestApp, teacher: Person, courseId: string, sessionId: string) {
  const res = await json<{ code: string; url: string; step: number; changes_at: string }>(
    t.app,
    'GET',
    `/courses/${courseId}/sessions/${sessionId}/code`,
    teacher,
  );
  if (res.status !== 200) throw new Error(`code: ${res.raw}`);
  return res.body;
}

/** Moves the app's clock to 50 ms after the start of the next code period (the test then has the whole period). */
export function alignToPeriod(t: TestApp, periodSeconds: number, now = Date.now()): void {
  const period = periodSeconds * 1000;
  // `now` is the real time; the app's clock runs ahead by what was advanced before, so read it.
  const appNow = now + skewOf(t);
  const next = Math.ceil(appNow / period) * period + 50;
  t.advance(next - appNow);
}

const skews = new WeakMap<TestApp, number>();
function skewOf(t: TestApp): number {
  return skews.get(t) ?? 0;
}

/** Wraps t.advance so alignToPeriod knows how far the clock was moved. */
export function trackSkew(t: TestApp): TestApp {
  const advance = t.advance.bind(t);
  t.advance = (ms: number) => {
    skews.set(t, skewOf(t) + ms);
    advance(ms);
  };
  return t;
}

export const checkIn = (t: TestApp, who: Person, sessionId: string, code: string, deviceId?: string) =>
  json<{ status: string; at: string; already: boolean; flags: string[]; method: string }>(t.app, 'POST', '/attendance/check-in', who, {
    session_id: sessionId,
    code,
    ...(deviceId === undefined ? {} : { device_id: deviceId }),
  });
