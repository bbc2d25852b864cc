/**
 * Checking in with the projector's rotating code, by the app's clock moved instead of sleeping:
 * the window (step n and n+1 only), the same code on every projector tab, late, duplicates, the
 * roster and walk-ins, shared devices, ended and unknown sessions, arrival tickets across a
 * sign-in, the limits per user, and a class of 300 scanning one code.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { alignToPeriod, checkIn, currentCode, json, liveCourse, type Person, personMaker, trackSkew } from './helpers.js';

describe('attendance: check-in by rotating code', () => {
  let t: TestApp;
  let person: ReturnType<typeof personMaker>;
  let teacher: Person;
  before(async () => {
    t = trackSkew(await buildTestApp());
    person = personMaker(t);
    teacher = await person('teacher');
  });
  after(() => t.close());

  it('shows the same code on a refreshed or second projector tab, and a new one next period', async () => {
    const { courseId, sessionId } = await liveCourse(t, teacher, []);
    alignToPeriod(t, 10);
    const first = await currentCode(t, teacher, courseId, sessionId);
    const refreshed = await currentCode(t, teacher, courseId, sessionId);
    assert.equal(refreshed.code, first.code);
    assert.match(first.url, new RegExp(`/attend/${sessionId}\\?c=${first.code}$`));
    t.advance(10_000);
    const next = await currentCode(t, teacher, courseId, sessionId);
    assert.notEqual(next.code, first.code);
    assert.equal(next.step, first.step + 1);
  });

  it('accepts the code of step n at n and n+1, and refuses it at n+2 (CODE_EXPIRED)', async () => {
    const students = [await person(), await person(), await person()];
    const { courseId, sessionId } = await liveCourse(t, teacher, students);
    alignToPeriod(t, 10);
    const { code } = await currentCode(t, teacher, courseId, sessionId);
    assert.equal((await checkIn(t, students[0]!, sessionId, code)).status, 200, 'step n');
    t.advance(19_700);
    assert.equal((await checkIn(t, students[1]!, sessionId, code)).status, 200, 'step n+1, at its very end');
    t.advance(400);
    const late = await checkIn(t, students[2]!, sessionId, code);
    assert.equal(late.status, 400, 'step n+2');
    assert.equal((late.body as unknown as { code: string }).code, 'CODE_EXPIRED');
    const report = await json<{ rows: { user_id: string; status: string | null }[] }>(t.app, 'GET', `/courses/${courseId}/sessions/${sessionId}/report`, teacher);
    assert.equal(report.body.rows.find((r) => r.user_id === students[2]!.id)?.status, null, 'nothing recorded');
  });

  it('says present, then "already checked in" with the first time (200, no duplicate)', async () => {
    const student = await person();
    const { courseId, sessionId } = await liveCourse(t, teacher, [student]);
    const { code } = await currentCode(t, teacher, courseId, sessionId);
    const first = await checkIn(t, student, sessionId, code);
    assert.equal(first.status, 200);
    assert.equal(first.body.status, 'present');
    assert.equal(first.body.already, false);
    assert.equal(first.body.method, 'qr');
    t.advance(3_000);
    const { code: again } = await currentCode(t, teacher, courseId, sessionId);
    const second = await checkIn(t, student, sessionId, again);
    assert.equal(second.status, 200);
    assert.equal(second.body.already, true);
    assert.equal(second.body.at, first.body.at);
    const report = await json<{ rows: unknown[] }>(t.app, 'GET', `/courses/${courseId}/sessions/${sessionId}/report`, teacher);
    assert.equal(report.body.rows.length, 1);
  });

  it("marks late after the course's late-after minutes from the start", async () => {
    const student = await person();
    const { courseId, sessionId } = await liveCourse(t, teacher, [student], { course: { late_after_minutes: 5 } });
    t.advance(5 * 60_000 + 1_000);
    const { code } = await currentCode(t, teacher, courseId, sessionId);
    const res = await checkIn(t, student, sessionId, code);
    assert.equal(res.body.status, 'late');
  });

  it('refuses a student off the roster (403), and lets them in as a walk-in when the session is open', async () => {
    const outsider = await person();
    const closed = await liveCourse(t, teacher, []);
    const closedCode = await currentCode(t, teacher, closed.courseId, closed.sessionId);
    const refused = await checkIn(t, outsider, closed.sessionId, closedCode.code);
    assert.equal(refused.status, 403);
    const open = await liveCourse(t, teacher, [], { session: { open: true } });
    const openCode = await currentCode(t, teacher, open.courseId, open.sessionId);
    const walkIn = await checkIn(t, outsider, open.sessionId, openCode.code);
    assert.equal(walkIn.status, 200);
    assert.deepEqual(walkIn.body.flags, ['walk_in']);
    const roster = await json<{ students: { id: string; walk_in: boolean }[] }>(t.app, 'GET', `/courses/${open.courseId}/roster`, teacher);
    assert.deepEqual(roster.body.students.map((s) => [s.id, s.walk_in]), [[outsider.id, true]]);
  });

  it('flags a second account checking in from the same device, or refuses it when the course says so', async () => {
    const [a, b, c, d] = [await person(), await person(), await person(), await person()];
    const flagging = await liveCourse(t, teacher, [a, b]);
    const code = (await currentCode(t, teacher, flagging.courseId, flagging.sessionId)).code;
    const device = 'device-aaaaaaaaaaaaaaaa';
    assert.deepEqual((await checkIn(t, a, flagging.sessionId, code, device)).body.flags, []);
    assert.deepEqual((await checkIn(t, b, flagging.sessionId, code, device)).body.flags, ['shared_device']);

    const refusing = await liveCourse(t, teacher, [c, d], { course: { shared_device: 'refuse' } });
    const code2 = (await currentCode(t, teacher, refusing.courseId, refusing.sessionId)).code;
    assert.equal((await checkIn(t, c, refusing.sessionId, code2, device)).status, 200);
    const refused = await checkIn(t, d, refusing.sessionId, code2, device);
    assert.equal(refused.status, 409);
    assert.equal((refused.body as unknown as { code: string }).code, 'SHARED_DEVICE');
    assert.equal((await checkIn(t, d, refusing.sessionId, code2, 'device-bbbbbbbbbbbbbbbb')).status, 200, 'from their own device');
  });

  it("refuses an unknown session (404), another session's code (400), an ended session (409), and records nothing", async () => {
    const student = await person();
    const one = await liveCourse(t, teacher, [student]);
    const two = await liveCourse(t, teacher, [student]);
    const codeOfTwo = (await currentCode(t, teacher, two.courseId, two.sessionId)).code;
    const unknown = await checkIn(t, student, '6916cbc709d9eedb316de5c3', codeOfTwo);
    assert.equal(unknown.status, 404);
    const crossed = await checkIn(t, student, one.sessionId, codeOfTwo);
    assert.equal(crossed.status, 400);
    assert.equal((crossed.body as unknown as { code: string }).code, 'INVALID_CODE');
    const ended = await json(t.app, 'POST', `/courses/${two.courseId}/sessions/${two.sessionId}/end`, teacher);
    assert.equal(ended.status, 200);
    assert.equal(ended.body.state, 'ended');
    const afterEnd = await checkIn(t, student, two.sessionId, codeOfTwo);
    assert.equal(afterEnd.status, 409);
    assert.equal((afterEnd.body as unknown as { code: string }).code, 'SESSION_ENDED');
    assert.equal((await json(t.app, 'POST', `/courses/${two.courseId}/sessions/${two.sessionId}/end`, teacher)).status, 409);
    for (const s of [one, two]) assert.deepEqual(await t.store.attendance.listCheckins(s.sessionId), []);
  });

  it('refuses a scheduled session before it starts (409 SESSION_NOT_STARTED)', async () => {
    const student = await person();
    const start = new Date(Date.now() + 7 * 24 * 3600_000);
    const { courseId, sessionId } = await liveCourse(t, teacher, [student], {
      session: { starts_at: start.toISOString(), ends_at: new Date(start.getTime() + 3600_000).toISOString() },
    });
    const { code } = await currentCode(t, teacher, courseId, sessionId);
    const res = await checkIn(t, student, sessionId, code);
    assert.equal(res.status, 409);
    assert.equal((res.body as unknown as { code: string }).code, 'SESSION_NOT_STARTED');
  });

  it('limits attempts per user (429 RATE_LIMITED), while others in the same room go on', async () => {
    const [guesser, honest] = [await person(), await person()];
    const { courseId, sessionId } = await liveCourse(t, teacher, [guesser, honest]);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i += 1) statuses.push((await checkIn(t, guesser, sessionId, `wrongcode${String(i).padStart(3, '0')}`)).status);
    assert.deepEqual(statuses.slice(0, 10), Array(10).fill(400));
    assert.equal(statuses.at(-1), 429);
    const { code } = await currentCode(t, teacher, courseId, sessionId);
    assert.equal((await checkIn(t, honest, sessionId, code)).status, 200);
  });

  it('accepts 300 students scanning one code within its window: 300 accepted, 0 refused, 300 recorded', async () => {
    const students = await Promise.all(Array.from({ length: 300 }, () => person()));
    const { courseId, sessionId } = await liveCourse(t, teacher, students);
    alignToPeriod(t, 10);
    const { code } = await currentCode(t, teacher, courseId, sessionId);
    // Half in its own period, half in the next: the whole window.
    const results = await Promise.all(students.slice(0, 150).map((s) => checkIn(t, s, sessionId, code)));
    t.advance(10_000);
    results.push(...(await Promise.all(students.slice(150).map((s) => checkIn(t, s, sessionId, code)))));
    assert.equal(results.filter((r) => r.status === 200 && !r.body.already).length, 300);
    assert.equal(results.filter((r) => r.status !== 200).length, 0);
    assert.equal((await t.store.attendance.listCheckins(sessionId)).length, 300);
  });
});

describe('attendance: arrival tickets (scan first, sign in, checked in as of the scan)', () => {
  let t: TestApp;
  let person: ReturnType<typeof personMaker>;
  let teacher: Person;
  before(async () => {
    t = trackSkew(await buildTestApp());
    person = personMaker(t);
    teacher = await person('teacher');
  });
  after(() => t.close());

  const arrive = (sessionId: string, code: string, device: string) =>
    json<{ ticket: string; expires_at: string }>(t.app, 'POST', '/attendance/arrivals', null, { session_id: sessionId, code, device_id: device });
  const redeem = (who: Person, ticket: string, device: string) =>
    json<{ at: string; status: string; already: boolean; code?: string }>(t.app, 'POST', '/attendance/arrivals/redeem', who, { ticket, device_id: device });

  it('checks in as of the arrival after a sign-in within 2 minutes, once', async () => {
    const student = await person();
    const { courseId, sessionId } = await liveCourse(t, teacher, [student], { course: { late_after_minutes: 1 } });
    const { code } = await currentCode(t, teacher, courseId, sessionId);
    const device = 'device-ticket-0000000001';
    const arrival = await arrive(sessionId, code, device);
    assert.equal(arrival.status, 201);
    const arrivedAt = Date.parse(arrival.body.expires_at) - 120_000;
    // Signing in (TOTP included) takes a while: past the late mark, past the code's window.
    t.advance(90_000);
    const done = await redeem(student, arrival.body.ticket, device);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(Date.parse(done.body.at), arrivedAt);
    assert.equal(done.body.status, 'present', 'as of the arrival, not the sign-in');
    const replay = await redeem(student, arrival.body.ticket, device);
    assert.equal(replay.status, 400);
    assert.equal(replay.body.code, 'INVALID_TICKET');
  });

  it('refuses a ticket replayed from another browser, a forged one, and one older than 2 minutes', async () => {
    const [student, thief] = [await person(), await person()];
    const { courseId, sessionId } = await liveCourse(t, teacher, [student, thief]);
    const { code } = await currentCode(t, teacher, courseId, sessionId);
    const device = 'device-ticket-0000000002';
    const arrival = await arrive(sessionId, code, device);
    const elsewhere = await redeem(thief, arrival.body.ticket, 'device-ticket-9999999999');
    assert.equal(elsewhere.status, 400);
    assert.equal(elsewhere.body.code, 'INVALID_TICKET');
    const forged = await redeem(student, 'A'.repeat(43), device);
    assert.equal(forged.status, 400);
    t.advance(121_000);
    const stale = await redeem(student, arrival.body.ticket, device);
    assert.equal(stale.status, 400);
    assert.deepEqual(await t.store.attendance.listCheckins(sessionId), [], 'nothing recorded');
  });

  it('checks the code at arrival: an expired code makes no ticket', async () => {
    const { courseId, sessionId } = await liveCourse(t, teacher, []);
    alignToPeriod(t, 10);
    const { code } = await currentCode(t, teacher, courseId, sessionId);
    t.advance(20_000);
    const res = await arrive(sessionId, code, 'device-ticket-0000000003');
    assert.equal(res.status, 400);
    assert.equal((res.body as unknown as { code: string }).code, 'CODE_EXPIRED');
  });
});
