/**
 * The one contract every Store implementation passes, the same code for all of them. A store
 * that passes it can stand behind the service; a behaviour not pinned here is not promised.
 *
 * `open()` must return a fresh, migrated, empty store each call; every test opens its own
 * and closes it, so a failing test cannot leak rows into the next one.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { newId } from '../../src/users/ids.js';
import { attendanceContract } from './contract-attendance.js';
import { authDataContract } from './contract-auth.js';
import { passkeyContract } from './contract-passkeys.js';
import { oidcContract } from './contract-oidc.js';
import { Conflict, type NewUser, type Role, type Store, USER_DEFAULTS, type User } from '../../src/store/store.js';

let sequence = 0;

/** A valid new user, unique by construction; overrides pick what the test is about. */
export function aUser(overrides: Partial<NewUser> = {}): NewUser {
  sequence += 1;
  return {
    id: newId(),
    username: `user${sequence}`,
    email: `user${sequence}@example.com`,
    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
    fullName: `User ${sequence}`,
    role: 'student',
    createdAt: new Date(Date.UTC(2024, 0, 1, 12, 0, sequence % 60, sequence % 1000)),
    ...overrides,
  };
}

/** The user a store should hand back for `input`. */
function expected(input: NewUser): User {
  return { ...USER_DEFAULTS, ...input };
}

function isConflict(field: Conflict['field']) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof Conflict, `expected a Conflict, got ${String(error)}`);
    assert.equal(error.field, field);
    return true;
  };
}

/** Ids in the order the store must list them: byte order of lowercase hex. */
function sortedIds(users: { id: string }[]): string[] {
  return users.map((u) => u.id).sort();
}

/**
 * Wraps a store so close() also runs `cleanup` (remove a file, drop a database). A Proxy, not a
 * spread, so an implementation written as a class keeps its `this`.
 */
export function withCleanup(store: Store, cleanup: () => Promise<void>): Store {
  const close = async () => {
    try {
      await store.close();
    } finally {
      await cleanup();
    }
  };
  return new Proxy(store, {
    get(target, property) {
      if (property === 'close') return close;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    async function insertAll(users: NewUser[]): Promise<User[]> {
      const out: User[] = [];
      for (const u of users) out.push(await store.insertUser(u));
      return out;
    }

    describe('insertUser and the finders', () => {
      it('returns the user it stored, field by field', async () => {
        const input = aUser({ fullName: 'Ada Lovelace', role: 'teacher' });
        assert.deepEqual(await store.insertUser(input), expected(input));
      });

      it('finds a user by id, by username and by email', async () => {
        const input = aUser();
        await store.insertUser(input);
        assert.deepEqual(await store.findUserById(input.id), expected(input));
        assert.deepEqual(await store.findUserByUsername(input.username), expected(input));
        assert.deepEqual(await store.findUserByEmail(input.email), expected(input));
      });

      it('stores the email as given and finds it with any case', async () => {
        const input = aUser({ email: 'Ada.Lovelace@Example.COM' });
        await store.insertUser(input);
        for (const probe of ['ada.lovelace@example.com', 'ADA.LOVELACE@EXAMPLE.COM', 'Ada.Lovelace@Example.COM']) {
          const found = await store.findUserByEmail(probe);
          assert.equal(found?.id, input.id, probe);
          assert.equal(found?.email, 'Ada.Lovelace@Example.COM');
        }
      });

      it('keeps a given id, createdAt to the millisecond, a legacy hash, a null name and the QR code', async () => {
        const input = aUser({
          id: '5f1d7a3b9c8e4d2a1b0c9d8e',
          createdAt: new Date('2020-07-26T14:03:07.089Z'),
          passwordHash: '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW',
          fullName: null,
          role: 'admin',
          qrCode: 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
        });
        await store.insertUser(input);
        const found = await store.findUserById(input.id);
        assert.deepEqual(found, expected(input));
        assert.equal(found?.createdAt.toISOString(), '2020-07-26T14:03:07.089Z');
      });

      it('stores a user without a QR code as qrCode null', async () => {
        const input = aUser();
        delete input.qrCode;
        assert.equal((await store.insertUser(input)).qrCode, null);
        assert.equal((await store.findUserById(input.id))?.qrCode, null);
      });
    });

    describe('uniqueness', () => {
      it('refuses an email that differs only in case, with Conflict("email")', async () => {
        await store.insertUser(aUser({ email: 'grace@example.com' }));
        await assert.rejects(store.insertUser(aUser({ email: 'Grace@EXAMPLE.com' })), isConflict('email'));
        assert.equal(await store.countUsers(), 1);
      });

      it('refuses a taken username with Conflict("username"), in any case', async () => {
        await store.insertUser(aUser({ username: 'grace' }));
        await assert.rejects(store.insertUser(aUser({ username: 'grace' })), isConflict('username'));
        await assert.rejects(store.insertUser(aUser({ username: 'Grace' })), isConflict('username'));
        await assert.rejects(store.insertUser(aUser({ username: 'GRACE' })), isConflict('username'));
        assert.equal(await store.countUsers(), 1);
      });

      it('stores the username as given and finds it with any case', async () => {
        const input = aUser({ username: 'Grace.Hopper' });
        await store.insertUser(input);
        for (const probe of ['grace.hopper', 'GRACE.HOPPER', 'Grace.Hopper']) {
          const found = await store.findUserByUsername(probe);
          assert.equal(found?.id, input.id, probe);
          assert.equal(found?.username, 'Grace.Hopper');
        }
      });

      it('refuses a taken id with Conflict("id")', async () => {
        const first = await store.insertUser(aUser());
        await assert.rejects(store.insertUser(aUser({ id: first.id })), isConflict('id'));
        assert.equal(await store.countUsers(), 1);
      });

      it('lets exactly one of 20 concurrent inserts of the same email win', async () => {
        const cases = ['dup@example.com', 'DUP@example.com', 'Dup@Example.com', 'dUp@exAmple.COM'];
        const inserts = Array.from({ length: 20 }, (_, i) =>
          store.insertUser(aUser({ email: cases[i % cases.length] })),
        );
        const settled = await Promise.allSettled(inserts);
        const won = settled.filter((s) => s.status === 'fulfilled');
        const lost = settled.filter((s) => s.status === 'rejected');
        assert.equal(won.length, 1);
        for (const s of lost) isConflict('email')(s.reason);
        assert.equal(await store.countUsers(), 1);
        assert.deepEqual(await store.findUserByEmail('dup@example.com'), won[0]?.value);
      });

      it('lets exactly one of 20 concurrent inserts of the same username win', async () => {
        const settled = await Promise.allSettled(
          Array.from({ length: 20 }, () => store.insertUser(aUser({ username: 'same-name' }))),
        );
        assert.equal(settled.filter((s) => s.status === 'fulfilled').length, 1);
        for (const s of settled) if (s.status === 'rejected') isConflict('username')(s.reason);
        assert.equal(await store.countUsers(), 1);
      });
    });

    describe('listUsers', () => {
      it('lists by id ascending whatever the insertion order, up to limit', async () => {
        const users = Array.from({ length: 12 }, () => aUser());
        await insertAll([...users].reverse());
        const all = await store.listUsers({ limit: 100 });
        assert.deepEqual(
          all.map((u) => u.id),
          sortedIds(users),
        );
        assert.deepEqual(all[0], expected(users.find((u) => u.id === all[0]?.id) as NewUser));
        const firstFive = await store.listUsers({ limit: 5 });
        assert.deepEqual(
          firstFive.map((u) => u.id),
          sortedIds(users).slice(0, 5),
        );
      });

      it('walks every page with the after cursor, with no duplicate and no gap', async () => {
        const users = Array.from({ length: 23 }, () => aUser());
        // Ids spread over time, so paging does not rely on one second's random tails only.
        users.forEach((u, i) => (u.id = newId(new Date(Date.UTC(2019, 0, 1 + (i * 7) % 23)))));
        await insertAll(users);
        const seen: string[] = [];
        let after: string | undefined;
        let pages = 0;
        for (;;) {
          const page = await store.listUsers({ limit: 5, ...(after === undefined ? {} : { after }) });
          if (page.length === 0) break;
          assert.ok(page.length <= 5);
          seen.push(...page.map((u) => u.id));
          after = page[page.length - 1]?.id;
          pages += 1;
          assert.ok(pages <= 10, 'paging does not end');
        }
        assert.equal(pages, 5);
        assert.deepEqual(seen, sortedIds(users));
      });

      it('returns nothing after the last id', async () => {
        const users = await insertAll([aUser(), aUser()]);
        const last = sortedIds(users)[1] as string;
        assert.deepEqual(await store.listUsers({ limit: 10, after: last }), []);
        assert.deepEqual(await store.listUsers({ limit: 10, after: 'ffffffffffffffffffffffff' }), []);
      });

      it('filters by role, also across pages', async () => {
        const roles: Role[] = ['student', 'teacher', 'admin', 'teacher', 'student', 'teacher', 'teacher'];
        const users = await insertAll(roles.map((role) => aUser({ role })));
        const teachers = sortedIds(users.filter((u) => u.role === 'teacher'));
        const first = await store.listUsers({ limit: 2, role: 'teacher' });
        const second = await store.listUsers({ limit: 2, role: 'teacher', after: first[1]?.id as string });
        assert.deepEqual([...first, ...second].map((u) => u.id), teachers);
        assert.ok([...first, ...second].every((u) => u.role === 'teacher'));
        assert.deepEqual(
          (await store.listUsers({ limit: 10, role: 'admin' })).map((u) => u.username),
          users.filter((u) => u.role === 'admin').map((u) => u.username),
        );
      });

      it('filters by email prefix in any case', async () => {
        const ada = await store.insertUser(aUser({ username: 'x1', email: 'Ada.L@example.com' }));
        const adam = await store.insertUser(aUser({ username: 'x2', email: 'adam@example.com' }));
        await store.insertUser(aUser({ username: 'x3', email: 'bob@example.com' }));
        const ids = sortedIds([ada, adam]);
        for (const prefix of ['ada', 'ADA', 'Ada']) {
          assert.deepEqual((await store.listUsers({ limit: 10, prefix })).map((u) => u.id), ids, prefix);
        }
        assert.deepEqual(
          (await store.listUsers({ limit: 10, prefix: 'ada.l@EXAMPLE' })).map((u) => u.id),
          [ada.id],
        );
      });

      it('filters by username prefix in any case', async () => {
        const a = await store.insertUser(aUser({ username: 'teacher_one', email: 'p1@example.com' }));
        const b = await store.insertUser(aUser({ username: 'teacher_two', email: 'p2@example.com' }));
        await store.insertUser(aUser({ username: 'student', email: 'p3@example.com' }));
        assert.deepEqual(
          (await store.listUsers({ limit: 10, prefix: 'teacher' })).map((u) => u.id),
          sortedIds([a, b]),
        );
        assert.deepEqual((await store.listUsers({ limit: 10, prefix: 'teacher_t' })).map((u) => u.id), [b.id]);
        assert.deepEqual((await store.listUsers({ limit: 10, prefix: 'TEACHER_T' })).map((u) => u.id), [b.id]);
      });

      it('matches %, _ and \\ in a prefix literally', async () => {
        const underscore = await store.insertUser(aUser({ username: 'a_b', email: 'w1@example.com' }));
        await store.insertUser(aUser({ username: 'axb', email: 'w2@example.com' }));
        const percent = await store.insertUser(aUser({ username: '100%sure', email: 'w3@example.com' }));
        await store.insertUser(aUser({ username: '100 sure', email: 'w4@example.com' }));
        const backslash = await store.insertUser(aUser({ username: 'c\\d', email: 'w5@example.com' }));
        await store.insertUser(aUser({ username: 'cd', email: 'w6@example.com' }));
        const ids = async (prefix: string) => (await store.listUsers({ limit: 10, prefix })).map((u) => u.id);
        assert.deepEqual(await ids('a_'), [underscore.id]);
        assert.deepEqual(await ids('100%'), [percent.id]);
        assert.deepEqual(await ids('c\\'), [backslash.id]);
        assert.deepEqual(await ids('%'), []);
        assert.deepEqual(await ids('_'), []);
      });

      it('combines prefix, role, after and limit', async () => {
        const users = await insertAll(
          Array.from({ length: 8 }, (_, i) =>
            aUser({ username: `combo${i}`, email: `c${i}@example.com`, role: i % 2 === 0 ? 'teacher' : 'student' }),
          ),
        );
        await store.insertUser(aUser({ username: 'other', role: 'teacher' }));
        const wanted = sortedIds(users.filter((u) => u.role === 'teacher'));
        const first = await store.listUsers({ limit: 3, prefix: 'combo', role: 'teacher' });
        const rest = await store.listUsers({ limit: 3, prefix: 'combo', role: 'teacher', after: first[2]?.id as string });
        assert.deepEqual([...first, ...rest].map((u) => u.id), wanted);
      });
    });

    describe('countUsers', () => {
      it('counts all users, or those of one role', async () => {
        assert.equal(await store.countUsers(), 0);
        await insertAll([aUser({ role: 'admin' }), aUser(), aUser(), aUser({ role: 'teacher' })]);
        assert.equal(await store.countUsers(), 4);
        assert.equal(await store.countUsers({}), 4);
        assert.equal(await store.countUsers({ role: 'student' }), 2);
        assert.equal(await store.countUsers({ role: 'teacher' }), 1);
        assert.equal(await store.countUsers({ role: 'admin' }), 1);
        assert.equal(typeof (await store.countUsers()), 'number');
      });
    });

    describe('updateUser', () => {
      it('changes each field alone and leaves the others, the id and createdAt as they were', async () => {
        const input = aUser({ qrCode: null });
        await store.insertUser(input);
        let current = expected(input);
        const patches = [
          { username: 'renamed' },
          { email: 'New.Address@Example.com' },
          { passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA' },
          { fullName: 'Someone Else' },
          { fullName: null },
          { role: 'admin' as const },
          { qrCode: 'iVBORw0KGgo=' },
          { qrCode: null },
        ];
        for (const patch of patches) {
          current = { ...current, ...patch };
          assert.deepEqual(await store.updateUser(input.id, patch), current, JSON.stringify(patch));
          assert.deepEqual(await store.findUserById(input.id), current, JSON.stringify(patch));
        }
      });

      it('returns the user unchanged for an empty patch', async () => {
        const input = aUser();
        await store.insertUser(input);
        assert.deepEqual(await store.updateUser(input.id, {}), expected(input));
      });

      it('moves the email lookup to the new address', async () => {
        const input = aUser({ email: 'old@example.com' });
        await store.insertUser(input);
        await store.updateUser(input.id, { email: 'Fresh@Example.com' });
        assert.equal(await store.findUserByEmail('old@example.com'), null);
        assert.equal((await store.findUserByEmail('fresh@example.com'))?.id, input.id);
        // The old address is free again.
        await store.insertUser(aUser({ email: 'OLD@example.com' }));
      });

      it('lets a user change the case of their own email', async () => {
        const input = aUser({ email: 'case@example.com' });
        await store.insertUser(input);
        assert.equal((await store.updateUser(input.id, { email: 'Case@Example.com' }))?.email, 'Case@Example.com');
      });

      it('refuses an email taken by another user, in any case, and changes nothing', async () => {
        await store.insertUser(aUser({ email: 'taken@example.com' }));
        const input = aUser();
        await store.insertUser(input);
        await assert.rejects(store.updateUser(input.id, { email: 'TAKEN@example.com', fullName: 'X' }), isConflict('email'));
        assert.deepEqual(await store.findUserById(input.id), expected(input));
      });

      it('refuses a username taken by another user and changes nothing', async () => {
        await store.insertUser(aUser({ username: 'taken' }));
        const input = aUser();
        await store.insertUser(input);
        await assert.rejects(store.updateUser(input.id, { username: 'taken' }), isConflict('username'));
        assert.deepEqual(await store.findUserById(input.id), expected(input));
      });
    });

    describe('deleteUser', () => {
      it('deletes once (true), then finds nothing to delete (false)', async () => {
        const input = aUser();
        await store.insertUser(input);
        assert.equal(await store.deleteUser(input.id), true);
        assert.equal(await store.deleteUser(input.id), false);
      });

      it('removes the user from every lookup and frees their email and username', async () => {
        const keep = await store.insertUser(aUser({ role: 'teacher' }));
        const input = aUser({ role: 'teacher', qrCode: 'iVBORw0KGgo=' });
        await store.insertUser(input);
        await store.deleteUser(input.id);
        assert.equal(await store.findUserById(input.id), null);
        assert.equal(await store.findUserByEmail(input.email), null);
        assert.equal(await store.findUserByUsername(input.username), null);
        assert.deepEqual((await store.listUsers({ limit: 10 })).map((u) => u.id), [keep.id]);
        assert.deepEqual((await store.listUsers({ limit: 10, prefix: input.username })).map((u) => u.id), []);
        assert.equal(await store.countUsers(), 1);
        assert.equal(await store.countUsers({ role: 'teacher' }), 1);
        assert.equal(await store.updateUser(input.id, { fullName: 'ghost' }), null);
        await store.insertUser(aUser({ email: input.email.toUpperCase(), username: input.username }));
      });
    });

    describe('a missing user', () => {
      it('is null, false or empty for every method, never an error', async () => {
        await store.insertUser(aUser());
        const missing = newId();
        assert.equal(await store.findUserById(missing), null);
        assert.equal(await store.findUserByEmail('nobody@example.com'), null);
        assert.equal(await store.findUserByUsername('nobody'), null);
        assert.equal(await store.updateUser(missing, { fullName: 'x' }), null);
        assert.equal(await store.updateUser(missing, { email: 'nobody@example.com' }), null);
        assert.equal(await store.updateUser(missing, {}), null);
        assert.equal(await store.deleteUser(missing), false);
        assert.deepEqual(await store.listUsers({ limit: 10, prefix: 'nobody' }), []);
        assert.equal(await store.countUsers(), 1);
      });
    });

    describe('lifecycle', () => {
      it('answers ping', async () => {
        await store.ping();
      });

      it('migrates again harmlessly, keeping the data', async () => {
        const input = aUser();
        await store.insertUser(input);
        await store.migrate();
        await store.migrate();
        assert.deepEqual(await store.findUserById(input.id), expected(input));
        await assert.rejects(store.insertUser(aUser({ email: input.email.toUpperCase() })), isConflict('email'));
      });

      it('reports its kind', () => {
        assert.ok(['sqlite', 'postgres', 'mongodb'].includes(store.kind));
      });
    });
  });
  authDataContract(name, open);
  attendanceContract(name, open);
  passkeyContract(name, open);
  oidcContract(name, open);
}
