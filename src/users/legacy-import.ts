/**
 * Import from the old service: a `mongoexport` dump of its `users` collection (JSON lines, or a
 * JSON array with --jsonArray; Extended JSON) into whichever store is configured. Ids, password
 * hashes, created_at and QR codes are kept exactly, so old users log in with their old passwords
 * and old QR codes keep naming them. Streams the file: a dump of any size runs in flat memory.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Conflict, type NewUser, ROLES, type Role, type Store, type User } from '../store/store.js';
import { parseId } from './ids.js';

export interface ImportIssue {
  /** 1-based line of the file where the record starts. */
  line: number;
  reason: string;
}

export interface ImportSummary {
  imported: number;
  /** Already in the store from an earlier run: not written again. */
  skipped: number;
  failed: number;
  errors: ImportIssue[];
}

export interface ImportProgress {
  records: number;
  imported: number;
  skipped: number;
  failed: number;
  bytesRead: number;
  totalBytes: number;
}

export interface ImportOptions {
  onProgress?: (progress: ImportProgress) => void;
  /** Report progress after this many records (and once at the end). */
  progressEvery?: number;
}

/**
 * Records go in one at a time, in file order, so when two records conflict the earlier line wins
 * and the report is the same on every run. A store error that is not a conflict (the database
 * went away) stops the import and propagates: re-running continues where it stopped.
 */
export async function importLegacyUsers(
  store: Store,
  file: string,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const every = options.progressEvery ?? 1000;
  const totalBytes = (await stat(file)).size;
  const format = await detectFormat(file);
  const summary: ImportSummary = { imported: 0, skipped: 0, failed: 0, errors: [] };
  const stream = createReadStream(file, { encoding: 'utf8' });
  let records = 0;
  let reported = -1;
  const report = (): void => {
    if (reported === records) return;
    reported = records;
    options.onProgress?.({ records, ...counts(summary), bytesRead: stream.bytesRead, totalBytes });
  };

  try {
    for await (const raw of format === 'array' ? arrayElements(stream) : jsonLines(stream)) {
      records += 1;
      const parsed = 'error' in raw ? raw.error : parseLegacyRecord(raw.text);
      const outcome = typeof parsed === 'string' ? parsed : await importOne(store, parsed);
      if (outcome === 'imported') summary.imported += 1;
      else if (outcome === 'skipped') summary.skipped += 1;
      else {
        summary.failed += 1;
        summary.errors.push({ line: raw.line, reason: outcome });
      }
      if (records % every === 0) report();
    }
  } finally {
    stream.destroy();
  }
  report();
  return summary;
}

function counts({ imported, skipped, failed }: ImportSummary): Omit<ImportSummary, 'errors'> {
  return { imported, skipped, failed };
}

/** 'imported', 'skipped', or the reason it failed. */
async function importOne(store: Store, user: NewUser): Promise<'imported' | 'skipped' | string> {
  try {
    await store.insertUser(user);
    return 'imported';
  } catch (error) {
    if (!(error instanceof Conflict)) throw error;
    // Checked whatever the field: a re-run can collide on email before the store mentions the id.
    const existing = await store.findUserById(user.id);
    if (existing !== null) return sameUser(existing, user);
    switch (error.field) {
      case 'email':
        return `email ${JSON.stringify(user.email)} is already used by another user (emails are unique ignoring case)`;
      case 'username':
        return `username ${JSON.stringify(user.username)} is already used by another user`;
      default:
        return 'conflicts with an existing user';
    }
  }
}

/**
 * The same id and creation time means this record was imported before. Whatever differs since
 * (a bcrypt hash re-hashed to argon2id at login, a new QR code, an edited name) is newer than the
 * dump, so it is kept and the record counts as already there.
 */
function sameUser(existing: User, user: NewUser): 'skipped' | string {
  return existing.createdAt.getTime() === user.createdAt.getTime()
    ? 'skipped'
    : `id ${user.id} already belongs to a different user (created ${existing.createdAt.toISOString()})`;
}

/** The bcrypt forms the verifier checks (auth/passwords/passwords.ts): 2a, 2b, 2x and 2y. */
const BCRYPT = /^\$2[abxy]\$\d{2}\$[./A-Za-z0-9]{53}$/;
/** $2$, bcrypt's first version: the bcrypt library here cannot verify it, so its user could never sign in. */
const UNVERIFIABLE_BCRYPT = /^\$2\$\d{2}\$[./A-Za-z0-9]{53}$/;
const ARGON2 = /^\$argon2(?:id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** One dumped document -> the user to insert, or why it cannot be imported. */
export function parseLegacyRecord(text: string): NewUser | string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    // V8 quotes the start of the bad text in its message; that text may hold a password hash.
    return `not valid JSON (${(error as Error).message.replace(/,\s*".*$/s, '')})`;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return 'not a JSON object';
  const d = doc as Record<string, unknown>;

  const rawId = isObject(d._id) ? d._id.$oid : d._id;
  const id = typeof rawId === 'string' ? parseId(rawId) : null;
  if (id === null) return '_id is not an ObjectId (24 hexadecimal characters)';
  if (typeof d.username !== 'string' || d.username.trim() === '') return 'username is missing';
  if (typeof d.email !== 'string' || !EMAIL.test(d.email)) return 'email is missing or not an address';
  if (typeof d.password === 'string' && UNVERIFIABLE_BCRYPT.test(d.password)) {
    return (
      'password is a $2$ bcrypt hash, which this service cannot verify (the user could never sign in): ' +
      'have them set a new password in the old service first, or create the user anew'
    );
  }
  if (typeof d.password !== 'string' || !(BCRYPT.test(d.password) || ARGON2.test(d.password))) {
    return 'password is not a bcrypt or argon2 hash';
  }
  if (!(ROLES as readonly unknown[]).includes(d.role)) {
    return `role must be one of ${ROLES.join(', ')} (got ${JSON.stringify(d.role ?? null)})`;
  }
  const createdAt = decodeDate(d.created_at);
  if (createdAt === null) return 'created_at is missing or not a date';
  const fullName = d.full_name ?? null;
  if (fullName !== null && typeof fullName !== 'string') return 'full_name must be a string or null';
  const qrCode = d.qr_code ?? null;
  if (qrCode !== null && typeof qrCode !== 'string') return 'qr_code must be a string or null';

  return {
    id,
    username: d.username,
    email: d.email,
    passwordHash: d.password,
    fullName,
    role: d.role as Role,
    createdAt,
    qrCode,
  };
}

/**
 * Extended JSON dates as mongoexport writes them: relaxed `{"$date": "<ISO>"}`, canonical
 * `{"$date": {"$numberLong": "<ms>"}}`, legacy `{"$date": <ms>}`; also a bare ISO string. A
 * string without a zone is the old service's naive UTC.
 */
export function decodeDate(raw: unknown): Date | null {
  let value: unknown = raw;
  if (isObject(raw)) {
    const long = isObject(raw.$date) ? raw.$date.$numberLong : undefined;
    value = typeof long === 'string' && /^-?\d+$/.test(long) ? Number(long) : raw.$date;
    if (typeof value === 'number') return validDate(new Date(value));
  }
  if (typeof value !== 'string' || !/^\d{4}-\d\d-\d\d/.test(value)) return null;
  return validDate(new Date(/(?:Z|[+-]\d\d:?\d\d)$/i.test(value) ? value : `${value}Z`));
}

function validDate(date: Date): Date | null {
  return Number.isFinite(date.getTime()) ? date : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

type RawRecord = { line: number; text: string } | { line: number; error: string };

/** A dump starting with `[` is one JSON array (--jsonArray); anything else is JSON lines. */
async function detectFormat(file: string): Promise<'array' | 'lines'> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(4096);
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return 'lines';
      const first = /[^\s\uFEFF]/.exec(buf.subarray(0, bytesRead).toString('utf8'));
      if (first !== null) return first[0] === '[' ? 'array' : 'lines';
    }
  } finally {
    await handle.close();
  }
}

async function* jsonLines(stream: NodeJS.ReadableStream): AsyncGenerator<RawRecord> {
  let line = 0;
  for await (const text of createInterface({ input: stream, crlfDelay: Infinity })) {
    line += 1;
    const trimmed = (line === 1 ? text.replace(/^\uFEFF/, '') : text).trim();
    if (trimmed !== '') yield { line, text: trimmed };
  }
}

/**
 * The elements of one top-level JSON array, each with the line it starts on, read chunk by
 * chunk: only brackets and strings are tracked, so a malformed element costs only itself.
 */
async function* arrayElements(stream: AsyncIterable<string | Buffer>): AsyncGenerator<RawRecord> {
  let line = 1;
  let state = 'before' as 'before' | 'between' | 'element' | 'after';
  let depth = 0;
  let inString = false;
  let escaped = false;
  let parts: string[] = [];
  let startLine = 1;
  let junkReported = false;

  for await (const chunk of stream) {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let segment = state === 'element' ? 0 : -1;
    const pending: RawRecord[] = [];
    for (let i = 0; i < text.length; i += 1) {
      const c = text[i]!;
      if (state === 'element') {
        if (inString) {
          if (escaped) escaped = false;
          else if (c === '\\') escaped = true;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === '{' || c === '[') depth += 1;
        else if ((c === '}' || c === ']') && depth > 0) depth -= 1;
        else if (depth === 0 && (c === ',' || c === ']')) {
          parts.push(text.slice(segment, i));
          const element = parts.join('').trim();
          pending.push(
            element === '' ? { line: startLine, error: 'empty array element' } : { line: startLine, text: element },
          );
          parts = [];
          segment = -1;
          state = c === ',' ? 'between' : 'after';
        }
      } else if (c === '\uFEFF' || /\s/.test(c)) {
        // whitespace between tokens
      } else if (state === 'before') {
        if (c !== '[') pending.push({ line, error: 'expected a JSON array' });
        state = c === '[' ? 'between' : 'after';
        junkReported = c !== '[';
      } else if (state === 'between' && c === ']') {
        state = 'after';
      } else if (state === 'between') {
        state = 'element';
        startLine = line;
        segment = i;
        i -= 1; // let the element branch see its first character
        continue;
      } else if (!junkReported) {
        pending.push({ line, error: 'unexpected text after the end of the JSON array' });
        junkReported = true;
      }
      if (c === '\n') line += 1;
    }
    if (state === 'element' && segment >= 0) parts.push(text.slice(segment));
    yield* pending;
  }
  if (state === 'element') yield { line: startLine, error: 'the JSON array ends inside this element' };
  else if (state !== 'after') yield { line, error: 'the JSON array is not closed' };
}
