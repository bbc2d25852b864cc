/**
 * Attendance across instances: a check-in handled by one real server appears on a live list
 * streamed by another, through Redis pub/sub (REDIS_URL), within a second. Two child processes on
 * one PostgreSQL database, as test/server/instances.test.ts runs them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateSigningJwk } from '../../src/auth/tokens/keys.js';
import { type InstanceGroup, startInstances } from '../helpers/instances.js';

const skip = !process.env.TEST_POSTGRES_URL
  ? 'PostgreSQL: skipped (set TEST_POSTGRES_URL)'
  : !process.env.TEST_REDIS_URL
    ? 'Redis: skipped (set TEST_REDIS_URL)'
    : false;
if (skip) console.log(skip);

describe('attendance on two instances with Redis', { skip }, () => {
  let group: InstanceGroup;
  let a: string;
  let b: string;
  const admin = { email: 'head@example.com', password: 'head-pass-123', username: 'head' };
  const call = async (url: string, method: string, path: string, body?: unknown, token?: string) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as Record<string, unknown> };
  };
  const login = async (email: string, password: string) => {
    const res = await call(a, 'POST', '/auth/login', { email, password });
    assert.equal(res.status, 200);
    return res.body.access_token as string;
  };

  before(async () => {
    const keys = JSON.stringify([await generateSigningJwk()]);
    group = await startInstances(2, {
      JWT_SIGNING_KEYS: keys,
      JWT_ALG: 'EdDSA',
      REDIS_URL: process.env.TEST_REDIS_URL as string,
      ADMIN_EMAIL: admin.email,
      ADMIN_PASSWORD: admin.password,
      ADMIN_USERNAME: admin.username,
    });
    [a, b] = group.instances.map((i) => i.url) as [string, string];
  });
  after(() => group?.stop());

  it('shows on the live list streamed by instance B a check-in handled by instance A, within a second', async () => {
    const adminToken = await login(admin.email, admin.password);
    const teacherCreds = { username: 'teach', email: 'teach@example.com', password: 'teach-pass-123', role: 'teacher' };
    assert.equal((await call(a, 'POST', '/auth/register', teacherCreds, adminToken)).status, 201);
    const studentCreds = { username: 'pupil', email: 'pupil@example.com', password: 'pupil-pass-123' };
    assert.equal((await call(a, 'POST', '/auth/register', studentCreds)).status, 201);
    const teacher = await login(teacherCreds.email, teacherCreds.password);
    const student = await login(studentCreds.email, studentCreds.password);
    const course = await call(a, 'POST', '/courses', { name: 'Distributed' }, teacher);
    const courseId = course.body.id as string;
    await call(a, 'POST', `/courses/${courseId}/roster`, { students: [studentCreds.email] }, teacher);
    const session = await call(a, 'POST', `/courses/${courseId}/sessions`, {}, teacher);
    const sessionId = session.body.id as string;

    const controller = new AbortController();
    const stream = await fetch(`${b}/courses/${courseId}/sessions/${sessionId}/events`, {
      headers: { authorization: `Bearer ${teacher}` },
      signal: controller.signal,
    });
    assert.equal(stream.status, 200);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    const waitFor = async (marker: string) => {
      while (!text.includes(marker)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${marker}`);
        text += decoder.decode(value, { stream: true });
      }
    };
    await waitFor('event: snapshot');

    const code = await call(a, 'GET', `/courses/${courseId}/sessions/${sessionId}/code`, undefined, teacher);
    const sent = Date.now();
    const checkin = await call(a, 'POST', '/attendance/check-in', { session_id: sessionId, code: code.body.code }, student);
    assert.equal(checkin.status, 200);
    await waitFor('event: checkin');
    const delay = Date.now() - sent;
    controller.abort();
    assert.ok(text.includes('"username":"pupil"'));
    assert.ok(delay < 1000, `arrived after ${delay} ms`);
  });
});
