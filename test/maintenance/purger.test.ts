/**
 * Issue 17, known gaps: expired one-time tokens, spent refresh tokens, ended sessions, stale attempt
 * counters and audit events past their retention are purged, in small batches, on a real store.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPurger } from '../../src/maintenance/purger.js';
import { newSequentialId } from '../../src/users/ids.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';

const DAY = 24 * 3600_000;
const silent = { info: () => {}, error: () => {} };

describe('the periodic purge', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(() => t.close());

  it('works through a backlog in batches, each kind past its cutoff, and keeps the rest', async () => {
    const now = Date.now();
    const user = await t.store.insertUser({
      id: '6916d8000000000000000aaa',
      username: 'purge_user',
      email: 'purge@example.com',
      passwordHash: 'x',
      fullName: null,
      role: 'student',
      createdAt: new Date(now - 400 * DAY),
    });
    for (let i = 0; i < 25; i++) {
      await t.store.oneTimeTokens.insert({
        hash: `${'0'.repeat(60)}${String(i).padStart(4, '0')}`,
        purpose: 'mfa',
        userId: user.id,
        createdAt: new Date(now - DAY),
        expiresAt: new Date(now - 1000),
        data: null,
      });
    }
    for (const daysAgo of [400, 366, 10]) {
      const at = new Date(now - daysAgo * DAY);
      await t.store.audit.insert({ id: newSequentialId(at), at, type: 'login.failed', userId: null, actorId: null, ip: null, userAgent: null, detail: null });
    }
    const purger = createPurger({ store: t.store, policy: { auditRetentionDays: 365 }, log: silent, batchSize: 10 });
    const round = await purger.runOnce();
    assert.equal(round.deleted.one_time_tokens, 25, 'three batches of at most 10');
    assert.equal(round.deleted.audit_events, 2);
    assert.equal(round.more, false);
    assert.equal((await t.store.audit.list({ limit: 10 })).length >= 1, true, 'the recent event stays');
    assert.equal((await purger.runOnce()).deleted.one_time_tokens, 0, 'nothing left');
  });

  it('stops a round at its budget and says more is left', async () => {
    const now = Date.now();
    for (let i = 0; i < 30; i++) {
      await t.store.oneTimeTokens.insert({
        hash: `${'1'.repeat(60)}${String(i).padStart(4, '0')}`,
        purpose: 'mfa',
        userId: null,
        createdAt: new Date(now - DAY),
        expiresAt: new Date(now - 1000),
        data: null,
      });
    }
    let clock = now;
    // Each batch "takes" a second of the purger's clock: past the 1.5 s budget after the second one.
    const purger = createPurger({
      store: {
        kind: t.store.kind,
        purge: {
          purge: async (kind, cutoff, limit) => {
            clock += 1000;
            return t.store.purge.purge(kind, cutoff, limit);
          },
        },
      },
      policy: { auditRetentionDays: 365 },
      log: silent,
      batchSize: 10,
      now: () => clock,
    });
    const round = await purger.runOnce(1500);
    assert.equal(round.more, true);
    assert.equal(round.deleted.one_time_tokens, 20);
  });

  it('keeps audit events for ever with a retention of 0 days', async () => {
    const at = new Date(Date.now() - 3000 * DAY);
    await t.store.audit.insert({ id: newSequentialId(at), at, type: 'user.created', userId: null, actorId: null, ip: null, userAgent: null, detail: null });
    const round = await createPurger({ store: t.store, policy: { auditRetentionDays: 0 }, log: silent }).runOnce();
    assert.equal(round.deleted.audit_events, 0);
    assert.equal((await t.store.audit.list({ limit: 50, type: 'user.created' })).some((e) => e.at.getTime() === at.getTime()), true);
  });
});
