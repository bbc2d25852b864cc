import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite.js';
import type { Store } from '../../src/store/store.js';
import { decodeDate, type ImportProgress, importLegacyUsers, parseLegacyRecord } from '../../src/users/legacy-import.js';

// The old service's export, carried by the repository (test/fixtures/legacy/README.md); found
// from this file, not the cwd.
const fixtures = fileURLToPath(new URL('../fixtures/legacy', import.meta.url));
const legacyDump = path.join(fixtures, 'legacy-users.jsonl');

interface LegacyDoc {
  _id: { $oid: string };
  username: string;
  email: string;
  password: string;
  full_name: string | null;
  role: string;
  created_at: { $date: string };
  qr_code: string | null;
}

const BCRYPT = '$2b$12$ru0CY/uMRfPgiKR16ytrGOeFR/MJbn9LykWuiu5/9/7D8FnaRG69m';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'legacy-import-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let storeCount = 0;
async function withStore(work: (store: Store) => Promise<void>): Promise<void> {
  storeCount += 1;
  const store = openSqliteStore(path.join(dir, `store-${storeCount}.db`));
  await store.migrate();
  try {
    await work(store);
  } finally {
    await store.close();
  }
}

async function dumpFile(name: string, content: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, content);
  return file;
}

/** A valid dumped document; overrides make it the case under test. */
function legacyDoc(n: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    _id: { $oid: `6916d8${n.toString(16).padStart(18, '0')}` },
    username: `legacy${n}`,
    email: `legacy${n}@example.com`,
    password: BCRYPT,
    full_name: `Legacy ${n}`,
    role: 'student',
    created_at: { $date: '2025-11-16T10:00:00.000Z' },
    qr_code: null,
    ...overrides,
  };
}

async function fixtureDocs(): Promise<LegacyDoc[]> {
  const text = await readFile(legacyDump, 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as LegacyDoc);
}

describe('importLegacyUsers', () => {
  it('imports the old service dump keeping ids, hashes, created_at and QR codes exactly', async () => {
    const docs = await fixtureDocs();
    await withStore(async (store) => {
      const summary = await importLegacyUsers(store, legacyDump);
      assert.deepEqual(summary, { imported: docs.length, skipped: 0, failed: 0, errors: [] });
      assert.equal(await store.countUsers(), docs.length);
      for (const doc of docs) {
        const user = await store.findUserById(doc._id.$oid);
        assert.ok(user, doc.username);
        assert.equal(user.id, doc._id.$oid);
        assert.equal(user.username, doc.username);
        assert.equal(user.email, doc.email);
        assert.equal(user.passwordHash, doc.password);
        assert.equal(user.fullName, doc.full_name);
        assert.equal(user.role, doc.role);
        assert.equal(user.createdAt.toISOString(), doc.created_at.$date);
        assert.equal(user.qrCode, doc.qr_code);
      }
      for (const name of ['alice', 'erin']) {
        const doc = docs.find((d) => d.username === name);
        assert.ok(typeof doc?.qr_code === 'string' && doc.qr_code.length > 100, `${name} has a QR code`);
        assert.equal((await store.findUserByUsername(name))?.qrCode, doc.qr_code);
      }
      // The mixed-case address keeps its case and is found in any case.
      assert.equal((await store.findUserByEmail('bob.builder@example.com'))?.email, 'Bob.Builder@Example.com');
    });
  });

  it('imports nothing twice: a second run skips every record', async () => {
    const docs = await fixtureDocs();
    await withStore(async (store) => {
      await importLegacyUsers(store, legacyDump);
      const again = await importLegacyUsers(store, legacyDump);
      assert.deepEqual(again, { imported: 0, skipped: docs.length, failed: 0, errors: [] });
      assert.equal(await store.countUsers(), docs.length);
    });
  });

  it('counts a user changed since the import (re-hashed, new QR) as already there and keeps the change', async () => {
    await withStore(async (store) => {
      await importLegacyUsers(store, legacyDump);
      const alice = await store.findUserByUsername('alice');
      assert.ok(alice);
      const rehashed = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA';
      await store.updateUser(alice.id, { passwordHash: rehashed, qrCode: null });
      const again = await importLegacyUsers(store, legacyDump);
      assert.equal(again.failed, 0);
      assert.equal(again.imported, 0);
      const after = await store.findUserById(alice.id);
      assert.equal(after?.passwordHash, rehashed);
      assert.equal(after?.qrCode, null);
    });
  });

  it('reports malformed and conflicting records by line, skips them and imports the rest', async () => {
    const lines = [
      JSON.stringify(legacyDoc(1, { email: 'First@Example.com' })), // 1 ok
      '{"_id": {"$oid": "6916d8000000000000000002"}, "username": ', // 2 not JSON
      JSON.stringify(legacyDoc(3, { email: 'first@example.COM' })), // 3 same email, other case
      JSON.stringify(legacyDoc(4, { _id: { $oid: 'not-an-object-id' } })), // 4 bad id
      JSON.stringify(legacyDoc(5, { role: 'superuser' })), // 5 bad role
      '', // 6 blank: not a record
      JSON.stringify(legacyDoc(7)), // 7 ok
      JSON.stringify(legacyDoc(8, { password: 'plain-text-password' })), // 8 not a hash
      JSON.stringify(legacyDoc(9, { username: 'legacy1' })), // 9 username taken
      JSON.stringify(legacyDoc(10, { created_at: 'yesterday' })), // 10 bad date
      '[1, 2]', // 11 not an object
      JSON.stringify(legacyDoc(12, { full_name: null, qr_code: 'iVBORw0KGgo=' })), // 12 ok
      `garbage ${BCRYPT}`, // 13 not JSON, with a hash in it
    ];
    const file = await dumpFile('mixed.jsonl', `${lines.join('\n')}\n`);
    await withStore(async (store) => {
      const summary = await importLegacyUsers(store, file);
      assert.equal(summary.imported, 3);
      assert.equal(summary.skipped, 0);
      assert.equal(summary.failed, 9);
      assert.deepEqual(
        summary.errors.map((e) => e.line),
        [2, 3, 4, 5, 8, 9, 10, 11, 13],
      );
      const reason = (line: number) => summary.errors.find((e) => e.line === line)?.reason ?? '';
      assert.match(reason(2), /not valid JSON/);
      assert.match(reason(13), /^not valid JSON \(Unexpected token 'g'\)$/, 'no quoted text: it may hold a hash');
      assert.match(reason(3), /email "first@example.COM" is already used/);
      assert.match(reason(4), /_id is not an ObjectId/);
      assert.match(reason(5), /role must be one of student, teacher, admin \(got "superuser"\)/);
      assert.match(reason(8), /not a bcrypt or argon2 hash/);
      assert.match(reason(9), /username "legacy1" is already used/);
      assert.match(reason(10), /created_at/);
      assert.match(reason(11), /not a JSON object/);
      for (const e of summary.errors) {
        assert.doesNotMatch(e.reason, /plain-text-password|\$2b\$/, 'no secrets in reports');
      }
      assert.deepEqual(
        (await store.listUsers({ limit: 10 })).map((u) => u.username),
        ['legacy1', 'legacy7', 'legacy12'],
      );
      assert.equal((await store.findUserByUsername('legacy12'))?.qrCode, 'iVBORw0KGgo=');
    });
  });

  it('refuses $2$ bcrypt hashes, which cannot be verified, naming the line; imports $2x$ and $2y$, which verify', async () => {
    const tail = BCRYPT.slice('$2b$'.length);
    const lines = [
      JSON.stringify(legacyDoc(30)),
      JSON.stringify(legacyDoc(31, { password: `$2x$${tail}` })),
      JSON.stringify(legacyDoc(32, { password: `$2$${tail}` })),
      JSON.stringify(legacyDoc(33, { password: `$2y$${tail}` })),
    ];
    const file = await dumpFile('variants.jsonl', `${lines.join('\n')}\n`);
    await withStore(async (store) => {
      const summary = await importLegacyUsers(store, file);
      assert.equal(summary.imported, 3);
      assert.deepEqual(summary.errors.map((e) => e.line), [3]);
      assert.match(summary.errors[0]?.reason ?? '', /\$2\$ bcrypt hash, which this service cannot verify/);
      assert.equal(await store.findUserByUsername('legacy32'), null, 'not imported: the user could never sign in');
      assert.ok(await store.findUserByUsername('legacy31'));
      assert.ok(await store.findUserByUsername('legacy33'));
    });
  });

  it('reads a --jsonArray dump, with the line each bad element starts on', async () => {
    const docs = await fixtureDocs();
    const elements = [
      ...docs.map((d) => JSON.stringify(d)),
      JSON.stringify(legacyDoc(20, { role: 'root' })),
      JSON.stringify(legacyDoc(21), null, 2),
      JSON.stringify(legacyDoc(22, { username: 'has ] and , and " inside' })),
    ];
    const file = await dumpFile('array.json', `[\n${elements.join(',\n')}\n]\n`);
    await withStore(async (store) => {
      const summary = await importLegacyUsers(store, file);
      assert.equal(summary.imported, docs.length + 2);
      assert.deepEqual(summary.errors, [
        { line: docs.length + 2, reason: 'role must be one of student, teacher, admin (got "root")' },
      ]);
      for (const doc of docs) {
        const user = await store.findUserById(doc._id.$oid);
        assert.equal(user?.passwordHash, doc.password);
        assert.equal(user?.qrCode, doc.qr_code);
      }
      assert.ok(await store.findUserByUsername('has ] and , and " inside'));
      assert.equal((await importLegacyUsers(store, file)).skipped, docs.length + 2);
    });
  });

  it('reads an array far larger than one read chunk, elements split across chunks', async () => {
    const docs = Array.from({ length: 3000 }, (_, i) =>
      legacyDoc(5000 + i, { full_name: `Ünïcödé ${'é'.repeat(i % 50)} ${i}`, qr_code: 'iVBORw0KGgo='.repeat(i % 7) }),
    );
    const file = await dumpFile('large-array.json', JSON.stringify(docs, null, 1));
    await withStore(async (store) => {
      const summary = await importLegacyUsers(store, file);
      assert.deepEqual(summary, { imported: 3000, skipped: 0, failed: 0, errors: [] });
      const last = await store.findUserByUsername('legacy7999');
      assert.equal(last?.fullName, `Ünïcödé ${'é'.repeat(2999 % 50)} 2999`);
    });
  });

  it('reads an array written on one line, and reports an array that is never closed', async () => {
    const oneLine = await dumpFile('one-line.json', JSON.stringify([legacyDoc(30), legacyDoc(31)]));
    const unclosed = await dumpFile(
      'unclosed.json',
      `[${JSON.stringify(legacyDoc(32))},\n${JSON.stringify(legacyDoc(33))}`,
    );
    await withStore(async (store) => {
      assert.deepEqual(await importLegacyUsers(store, oneLine), { imported: 2, skipped: 0, failed: 0, errors: [] });
      const summary = await importLegacyUsers(store, unclosed);
      assert.equal(summary.imported, 1);
      assert.deepEqual(summary.errors, [{ line: 2, reason: 'the JSON array ends inside this element' }]);
    });
  });

  it('reports progress, ending with every record counted', async () => {
    const lines = Array.from({ length: 23 }, (_, i) => JSON.stringify(legacyDoc(100 + i)));
    const file = await dumpFile('progress.jsonl', lines.join('\n'));
    const seen: ImportProgress[] = [];
    await withStore(async (store) => {
      await importLegacyUsers(store, file, { onProgress: (p) => seen.push(p), progressEvery: 10 });
      // A count that is a multiple of progressEvery is reported once, not again at the end.
      const twenty = await dumpFile('twenty.jsonl', lines.slice(0, 20).join('\n'));
      const counted: number[] = [];
      await importLegacyUsers(store, twenty, { onProgress: (p) => counted.push(p.records), progressEvery: 10 });
      assert.deepEqual(counted, [10, 20]);
    });
    assert.deepEqual(
      seen.map((p) => p.records),
      [10, 20, 23],
    );
    const last = seen.at(-1);
    assert.equal(last?.imported, 23);
    assert.equal(last?.bytesRead, last?.totalBytes);
  });

  it('rejects a file that cannot be read', async () => {
    await withStore(async (store) => {
      await assert.rejects(importLegacyUsers(store, path.join(dir, 'missing.jsonl')), { code: 'ENOENT' });
    });
  });

  it('imports a generated dump of 100,000 users completely', async () => {
    const total = 100_000;
    const file = path.join(dir, 'big.jsonl');
    const out = createWriteStream(file);
    const base = Date.UTC(2024, 0, 1);
    for (let i = 0; i < total; i += 1) {
      const doc = legacyDoc(1_000_000 + i, {
        created_at: { $date: new Date(base + i * 1000).toISOString() },
        full_name: i % 3 === 0 ? null : `Generated User ${i}`,
        role: i % 50 === 0 ? 'teacher' : 'student',
      });
      if (!out.write(`${JSON.stringify(doc)}\n`)) await once(out, 'drain');
    }
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));

    await withStore(async (store) => {
      const started = process.hrtime.bigint();
      const summary = await importLegacyUsers(store, file);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      console.log(
        `legacy import: ${total} users into SQLite in ${seconds.toFixed(1)} s (${Math.round(total / seconds)} users/s)`,
      );
      assert.deepEqual(summary, { imported: total, skipped: 0, failed: 0, errors: [] });
      assert.equal(await store.countUsers(), total);
      assert.equal(await store.countUsers({ role: 'teacher' }), total / 50);
    });
  });
});

describe('parseLegacyRecord', () => {
  it('accepts a plain-string id and an argon2id hash (a dump of this service’s own MongoDB)', () => {
    const user = parseLegacyRecord(
      JSON.stringify(
        legacyDoc(1, {
          _id: '6916D8000000000000000001',
          password: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
          email_lower: 'legacy1@example.com',
        }),
      ),
    );
    assert.ok(typeof user === 'object');
    assert.equal(user.id, '6916d8000000000000000001');
  });

  it('treats a missing full_name or qr_code as null', () => {
    const doc = legacyDoc(2);
    delete doc.full_name;
    delete doc.qr_code;
    const user = parseLegacyRecord(JSON.stringify(doc));
    assert.ok(typeof user === 'object');
    assert.equal(user.fullName, null);
    assert.equal(user.qrCode, null);
  });

  it('refuses a missing role rather than guessing one', () => {
    const doc = legacyDoc(3);
    delete doc.role;
    assert.match(String(parseLegacyRecord(JSON.stringify(doc))), /role must be one of/);
  });
});

describe('decodeDate', () => {
  it('reads every form mongoexport writes, and the old naive UTC strings', () => {
    const iso = '2025-11-14T06:27:19.247Z';
    const ms = Date.parse(iso);
    for (const raw of [
      { $date: iso },
      { $date: '2025-11-14T07:27:19.247+01:00' },
      { $date: { $numberLong: String(ms) } },
      { $date: ms },
      '2025-11-14T06:27:19.247455',
      iso,
    ]) {
      assert.equal(decodeDate(raw)?.toISOString(), iso, JSON.stringify(raw));
    }
  });

  it('is null for anything that is not a date', () => {
    for (const raw of [undefined, null, 'yesterday', '', 12, { $date: 'soon' }, { $date: { $numberLong: 'x' } }, {}]) {
      assert.equal(decodeDate(raw), null, JSON.stringify(raw));
    }
  });
});
