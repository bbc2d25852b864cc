/** The MongoDB store's pure edge: documents <-> users, regex escaping, error translation. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MongoError, MongoNetworkError, MongoServerError, ObjectId } from 'mongodb';
import { conflictField, translateMongoError } from '../../src/store/mongo/mongo-errors.js';
import {
  docToUser,
  escapeRegExp,
  patchToSet,
  prefixFilter,
  toObjectId,
  type UserDocument,
  userToDoc,
} from '../../src/store/mongo/user-document.js';
import {
  auditEventToDoc,
  docToAuditEvent,
  docToOneTimeToken,
  docToSession,
  oneTimeTokenToDoc,
  sessionToDoc,
  toKey,
} from '../../src/store/mongo/auth-documents.js';
import { Conflict, type NewUser, StoreUnavailable, USER_DEFAULTS, type User } from '../../src/store/store.js';

const BCRYPT = '$2b$12$ru0CY/uMRfPgiKR16ytrGOeFR/MJbn9LykWuiu5/9/7D8FnaRG69m';

describe('docToUser', () => {
  it('reads a document exactly as the old service wrote it', () => {
    const doc: UserDocument = {
      _id: ObjectId.createFromHexString('6916cbc709d9eedb316de5c3'),
      username: 'alice',
      email: 'Alice@Example.com',
      password: BCRYPT,
      full_name: 'Alice Example',
      role: 'student',
      created_at: new Date('2025-11-14T06:27:19.247Z'),
      qr_code: 'iVBORw0KGgo=',
    };
    assert.deepEqual(docToUser(doc), {
      ...USER_DEFAULTS,
      id: '6916cbc709d9eedb316de5c3',
      username: 'alice',
      email: 'Alice@Example.com',
      passwordHash: BCRYPT,
      fullName: 'Alice Example',
      role: 'student',
      createdAt: new Date('2025-11-14T06:27:19.247Z'),
      qrCode: 'iVBORw0KGgo=',
    });
  });

  it('reads the auth fields an old-service document lacks as their defaults', () => {
    const user = docToUser({
      _id: new ObjectId(),
      username: 'old',
      email: 'old@example.com',
      password: BCRYPT,
      role: 'student',
      created_at: new Date(0),
    });
    assert.equal(user.qrIssuedAt, null);
    assert.equal(user.disabled, false);
    assert.equal(user.emailVerified, false);
    assert.equal(user.tokenVersion, 0);
    assert.equal(user.totpSecret, null);
    assert.equal(user.totpEnabled, false);
    assert.equal(user.totpLastStep, 0);
    assert.deepEqual(user.revokedSessions, []);
  });

  it('fills what old documents may lack: no full_name, no qr_code, no email_lower', () => {
    const user = docToUser({
      _id: new ObjectId(),
      username: 'bob',
      email: 'bob@example.com',
      password: BCRYPT,
      role: 'teacher',
      created_at: new Date(0),
    });
    assert.equal(user.fullName, null);
    assert.equal(user.qrCode, null);
  });

  it('reads a naive created_at string as UTC, as the old service meant it', () => {
    const base = { _id: new ObjectId(), username: 'c', email: 'c@example.com', password: BCRYPT, role: 'admin' };
    assert.equal(
      docToUser({ ...base, created_at: '2025-11-14T06:27:19.247455' }).createdAt.toISOString(),
      '2025-11-14T06:27:19.247Z',
    );
    assert.equal(
      docToUser({ ...base, created_at: '2025-11-14T08:27:19+02:00' }).createdAt.toISOString(),
      '2025-11-14T06:27:19.000Z',
    );
  });

  it('gives an unknown role the least privilege instead of failing every list', () => {
    const user = docToUser({
      _id: new ObjectId(),
      username: 'd',
      email: 'd@example.com',
      password: BCRYPT,
      role: 'superuser',
      created_at: new Date(0),
    });
    assert.equal(user.role, 'student');
  });

  it('turns ObjectIds into 24 lowercase hex characters', () => {
    const user = docToUser({
      _id: ObjectId.createFromHexString('6916CBC709D9EEDB316DE5C3'),
      username: 'e',
      email: 'e@example.com',
      password: BCRYPT,
      role: 'student',
      created_at: new Date(0),
    });
    assert.equal(user.id, '6916cbc709d9eedb316de5c3');
  });
});

describe('userToDoc', () => {
  const user: NewUser = {
    id: '6916d7000000000000000003',
    username: 'erin',
    email: 'Érin@Example.com',
    passwordHash: BCRYPT,
    fullName: null,
    role: 'student',
    createdAt: new Date('2025-11-15T09:10:00.000Z'),
  };

  it('writes the old field names, plus email_lower beside them', () => {
    const doc = userToDoc(user);
    assert.equal(doc._id.toHexString(), user.id);
    assert.equal(doc.password, BCRYPT);
    assert.equal(doc.full_name, null);
    assert.equal(doc.qr_code, null);
    assert.equal(doc.email, 'Érin@Example.com');
    assert.equal(doc.email_lower, 'érin@example.com');
    assert.ok(doc.created_at instanceof Date);
  });

  it('round-trips through docToUser unchanged, missing fields at their defaults', () => {
    assert.deepEqual(docToUser(userToDoc({ ...user, qrCode: 'iVBORw0KGgo=' })), {
      ...USER_DEFAULTS,
      ...user,
      qrCode: 'iVBORw0KGgo=',
    });
  });

  it('round-trips a user with every auth field set, under snake_case names', () => {
    const full: User = {
      ...user,
      qrCode: 'iVBORw0KGgo=',
      qrIssuedAt: new Date('2030-01-01T00:00:00.456Z'),
      disabled: true,
      emailVerified: true,
      tokenVersion: 7,
      totpSecret: 'JBSWY3DPEHPK3PXP',
      totpEnabled: true,
      totpLastStep: 12345678,
      revokedSessions: [{ sessionId: '6916d7000000000000000009', until: new Date('2030-01-01T00:15:00.000Z') }],
    };
    const doc = userToDoc(full);
    assert.equal(doc.token_version, 7);
    assert.equal(doc.totp_last_step, 12345678);
    assert.equal(doc.email_verified, true);
    assert.equal(doc.username_lower, full.username.toLowerCase());
    assert.deepEqual(doc.revoked_sessions, [{ session_id: '6916d7000000000000000009', until: new Date('2030-01-01T00:15:00.000Z') }]);
    assert.deepEqual(docToUser(doc), full);
  });

  it('writes the default, not null, for a field given as undefined, so $inc can count from it', () => {
    const doc = userToDoc({ ...user, tokenVersion: undefined, totpLastStep: undefined });
    assert.equal(doc.token_version, 0);
    assert.equal(doc.totp_last_step, 0);
  });

  it('refuses an id that is not an ObjectId rather than inventing one', () => {
    assert.throws(() => userToDoc({ ...user, id: 'not-an-id' }), TypeError);
  });
});

describe('toObjectId', () => {
  it('is null for anything but 24 hex characters, and never throws', () => {
    for (const id of ['', 'abc', 'g'.repeat(24), 'a'.repeat(23), 'a'.repeat(25), ' 6916d7000000000000000003']) {
      assert.equal(toObjectId(id), null, id);
    }
    assert.equal(toObjectId('6916D7000000000000000003')?.toHexString(), '6916d7000000000000000003');
  });
});

describe('patchToSet', () => {
  it('keeps email_lower in step with email and maps the old field names', () => {
    assert.deepEqual(patchToSet({ email: 'New@Example.com', passwordHash: 'h', fullName: null, qrCode: null }), {
      email: 'New@Example.com',
      email_lower: 'new@example.com',
      password: 'h',
      full_name: null,
      qr_code: null,
    });
    assert.deepEqual(patchToSet({}), {});
  });

  it('maps the auth fields to their snake_case names, null included', () => {
    assert.deepEqual(
      patchToSet({
        username: 'Grace',
        disabled: true,
        emailVerified: false,
        totpSecret: null,
        totpEnabled: true,
        totpLastStep: 5,
        qrIssuedAt: null,
      }),
      {
        username: 'Grace',
        username_lower: 'grace',
        disabled: true,
        email_verified: false,
        totp_secret: null,
        totp_enabled: true,
        totp_last_step: 5,
        qr_issued_at: null,
      },
    );
  });
});

describe('auth documents', () => {
  const userId = '6916d7000000000000000003';

  it('round-trips a session, keeping ObjectId-form ids as ObjectIds', () => {
    const session = {
      id: '6916d7000000000000000009',
      userId,
      kind: 'api' as const,
      createdAt: new Date('2030-01-01T00:00:00.000Z'),
      lastUsedAt: new Date('2030-01-02T00:00:00.000Z'),
      expiresAt: new Date('2030-02-01T00:00:00.000Z'),
      revokedAt: null,
      userAgent: 'curl/8.0',
      ip: '127.0.0.1',
    };
    const doc = sessionToDoc(session);
    assert.ok(doc._id instanceof ObjectId);
    assert.ok(doc.user_id instanceof ObjectId);
    assert.deepEqual(docToSession(doc), session);
  });

  it('round-trips a single-use token keyed by its hash, with and without a user', () => {
    const token = {
      hash: 'ab'.repeat(32),
      purpose: 'password_reset' as const,
      userId,
      createdAt: new Date('2030-01-14T23:50:00.000Z'),
      expiresAt: new Date('2030-01-15T00:20:00.000Z'),
      data: '{"email":"x@example.com"}',
    };
    assert.equal(oneTimeTokenToDoc(token)._id, token.hash);
    assert.deepEqual(docToOneTimeToken(oneTimeTokenToDoc(token)), token);
    const anonymous = { ...token, userId: null, expiresAt: null, data: null };
    assert.deepEqual(docToOneTimeToken(oneTimeTokenToDoc(anonymous)), anonymous);
  });

  it('round-trips an audit event', () => {
    const event = {
      id: '6916d7000000000000000011',
      at: new Date('2030-01-01T00:00:04.000Z'),
      type: 'login.failed',
      userId,
      actorId: null,
      ip: '127.0.0.1',
      userAgent: 'test',
      detail: '{"reason":"x"}',
    };
    assert.deepEqual(docToAuditEvent(auditEventToDoc(event)), event);
  });

  it('keeps an id that is not an ObjectId as its string rather than throwing', () => {
    assert.equal(toKey('not-an-id'), 'not-an-id');
    assert.ok(toKey(userId) instanceof ObjectId);
  });
});

describe('escapeRegExp and prefixFilter', () => {
  const awkward = ['a.b', 'a*', 'a+b', 'x?', '^start', 'end$', '{1,2}', '(g)', 'a|b', '[abc]', 'c\\d', '100%', 'a_b'];

  it('makes every special character match only itself', () => {
    for (const text of awkward) {
      const re = new RegExp(`^${escapeRegExp(text)}`);
      assert.ok(re.test(`${text}tail`), text);
      assert.ok(!re.test(`x${text}`), `${text} is anchored`);
    }
    assert.ok(!new RegExp(`^${escapeRegExp('a.b')}`).test('axb'));
    assert.ok(!new RegExp(`^${escapeRegExp('[abc]')}`).test('a'));
  });

  it('matches the email and the username by lower-cased prefix, anchored (any case for old documents)', () => {
    type PrefixFilter = {
      $or: [
        { email_lower: { $regex: RegExp } },
        { username_lower: { $regex: RegExp } },
        { username_lower: { $exists: false }; username: { $regex: RegExp } },
      ];
    };
    const filter = prefixFilter('Ada.L') as PrefixFilter;
    const email = filter.$or[0].email_lower.$regex;
    const username = filter.$or[1].username_lower.$regex;
    const oldUsername = filter.$or[2].username.$regex;
    assert.ok(email.test('ada.l@example.com'));
    assert.ok(!email.test('adaxl@example.com'));
    assert.ok(!email.test('x.ada.l@example.com'));
    assert.equal(email.flags, '', 'case-sensitive on email_lower, so the index answers it');
    assert.ok(username.test('ada.lovelace'));
    assert.equal(username.flags, '', 'case-sensitive on username_lower, so the index answers it');
    assert.ok(!username.test('the-ada.l'));
    assert.ok(oldUsername.test('ADA.Lovelace'));
    assert.ok(!oldUsername.test('the-ada.l'));
  });
});

describe('translateMongoError', () => {
  function duplicateKey(description: Record<string, unknown>): MongoServerError {
    return new MongoServerError({ code: 11000, ...description });
  }

  it('names the field of a duplicate key from keyPattern', () => {
    for (const [keyPattern, field] of [
      [{ email_lower: 1 }, 'email'],
      [{ email: 1 }, 'email'],
      [{ username: 1 }, 'username'],
      [{ _id: 1 }, 'id'],
      [{ something_else: 1 }, 'unknown'],
    ] as const) {
      const translated = translateMongoError(duplicateKey({ message: 'E11000 duplicate key error', keyPattern }));
      assert.ok(translated instanceof Conflict);
      assert.equal(translated.field, field);
    }
  });

  it('falls back to the index name in the message when keyPattern is absent (older servers)', () => {
    const message = (index: string) =>
      `E11000 duplicate key error collection: db.users index: ${index} dup key: { : "x" }`;
    assert.equal(conflictField({ message: message('email_lower_1') }), 'email');
    assert.equal(conflictField({ message: message('username_1') }), 'username');
    assert.equal(conflictField({ message: message('_id_') }), 'id');
    assert.equal(conflictField({ message: 'E11000 duplicate key error' }), 'unknown');
  });

  it('turns network failures and "not now" server answers into StoreUnavailable', () => {
    const failures: unknown[] = [
      new MongoNetworkError('connection 1 to 127.0.0.1:27017 closed'),
      new MongoServerError({ code: 91, message: 'The server is in quiesce mode and will shut down' }),
      new MongoServerError({ code: 10107, message: 'not primary' }),
      new MongoServerError({ code: 50, message: 'operation exceeded time limit' }),
      Object.assign(new Error('querySrv ENOTFOUND _mongodb._tcp.cluster0.example.net'), { code: 'ENOTFOUND' }),
    ];
    for (const failure of failures) {
      const translated = translateMongoError(failure);
      assert.ok(translated instanceof StoreUnavailable, String(failure));
      assert.equal(translated.cause, failure);
    }
  });

  it('leaves other errors as they are', () => {
    for (const error of [
      new MongoServerError({ code: 2, message: 'BadValue' }),
      new MongoError('something else'),
      new TypeError('x is not a function'),
    ]) {
      assert.equal(translateMongoError(error), error);
    }
  });
});
