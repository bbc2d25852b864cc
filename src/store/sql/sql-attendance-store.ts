/**
 * Attendance (courses, teachers, rosters, sessions, check-ins) over Kysely, for SQLite and
 * PostgreSQL alike. Its tables are typed here rather than in tables.ts, so the feature stays in
 * its own files. "One check-in per student and session" is the primary key of `checkins`: two
 * instances racing to record the same scan cannot both insert.
 */
import { CompiledQuery, type Kysely, type Selectable, sql } from 'kysely';
import type {
  AttendanceSession,
  AttendanceStore,
  Checkin,
  CheckinFlag,
  CheckinMethod,
  CheckinStatus,
  Course,
  CoursePatch,
  RosterEntry,
  SharedDevicePolicy,
} from '../attendance-store.js';
import { toDate, toDateOrNull } from './dates.js';
import type { Runner } from './sql-store.js';
import type { Tables } from './tables.js';

type Timestamp = string | Date;
type Flag = number | boolean;

export type CoursesTable = {
  id: string;
  name: string;
  code: string | null;
  owner_id: string;
  period_seconds: number;
  late_after_minutes: number;
  shared_device_policy: string;
  created_at: Timestamp;
};

export type CourseTeachersTable = {
  course_id: string;
  user_id: string;
};

export type CourseRosterTable = {
  course_id: string;
  user_id: string;
  walk_in: Flag;
  added_at: Timestamp;
};

export type AttendanceSessionsTable = {
  id: string;
  course_id: string;
  name: string;
  secret: string;
  starts_at: Timestamp;
  ends_at: Timestamp;
  ended_at: Timestamp | null;
  open: Flag;
  created_at: Timestamp;
};

export type CheckinsTable = {
  session_id: string;
  user_id: string;
  method: string;
  status: string;
  /** Comma-separated CheckinFlag values, '' for none. */
  flags: string;
  at: Timestamp;
  device_id: string | null;
  note: string | null;
  marked_by: string | null;
  recorded_at: Timestamp;
};

// A type, not an interface: withTables() wants an index-signature-compatible record.
export type AttendanceTables = {
  courses: CoursesTable;
  course_teachers: CourseTeachersTable;
  course_roster: CourseRosterTable;
  attendance_sessions: AttendanceSessionsTable;
  checkins: CheckinsTable;
};

/** Rows per INSERT when adding a roster: far below SQLite's bound-parameter limit. */
const ROSTER_CHUNK = 500;

const rowToCourse = (row: Selectable<CoursesTable>): Course => ({
  id: row.id,
  name: row.name,
  code: row.code,
  ownerId: row.owner_id,
  periodSeconds: Number(row.period_seconds),
  lateAfterMinutes: Number(row.late_after_minutes),
  sharedDevicePolicy: row.shared_device_policy as SharedDevicePolicy,
  createdAt: toDate(row.created_at),
});

const rowToRoster = (row: Selectable<CourseRosterTable>): RosterEntry => ({
  courseId: row.course_id,
  userId: row.user_id,
  walkIn: Boolean(row.walk_in),
  addedAt: toDate(row.added_at),
});

const rowToSession = (row: Selectable<AttendanceSessionsTable>): AttendanceSession => ({
  id: row.id,
  courseId: row.course_id,
  name: row.name,
  secret: row.secret,
  startsAt: toDate(row.starts_at),
  endsAt: toDate(row.ends_at),
  endedAt: toDateOrNull(row.ended_at),
  open: Boolean(row.open),
  createdAt: toDate(row.created_at),
});

const rowToCheckin = (row: Selectable<CheckinsTable>): Checkin => ({
  sessionId: row.session_id,
  userId: row.user_id,
  method: row.method as CheckinMethod,
  status: row.status as CheckinStatus,
  flags: row.flags === '' ? [] : (row.flags.split(',') as CheckinFlag[]),
  at: toDate(row.at),
  deviceId: row.device_id,
  note: row.note,
  markedBy: row.marked_by,
  recordedAt: toDate(row.recorded_at),
});

export function createSqlAttendanceStore(
  base: Kysely<Tables>,
  run: Runner,
  encodeDate: (date: Date) => string | Date,
  encodeBool: (value: boolean) => number | boolean,
): AttendanceStore {
  const db = base.withTables<AttendanceTables>();

  const checkinRow = (c: Checkin) => ({
    session_id: c.sessionId,
    user_id: c.userId,
    method: c.method,
    status: c.status,
    flags: c.flags.join(','),
    at: encodeDate(c.at),
    device_id: c.deviceId,
    note: c.note,
    marked_by: c.markedBy,
    recorded_at: encodeDate(c.recordedAt),
  });

  const findCheckin = (sessionId: string, userId: string) =>
    run(async () => {
      const row = await db
        .selectFrom('checkins')
        .selectAll()
        .where('session_id', '=', sessionId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return row === undefined ? null : rowToCheckin(row);
    });

  /**
   * Check-ins are written in batches: those that reach the store in one event-loop turn (a class
   * scanning the projector at once) go into one multi-row INSERT, one statement and one commit
   * instead of one each (on SQLite a commit per row was most of a check-in's database time; on
   * PostgreSQL it is one round trip for the batch). The statement is atomic, so a batch is either
   * all written or not at all; should it fail (a session deleted meanwhile breaks its foreign
   * key), each check-in of the batch is tried again alone and gets its own answer.
   */
  type Pending = { checkin: Checkin; resolve: (inserted: boolean) => void; reject: (error: unknown) => void };
  const pending: Pending[] = [];
  const keyOf = (sessionId: string, userId: string) => `${sessionId} ${userId}`;
  // The batch's statement text, by its number of rows: Kysely builds it once per size (building
  // it each time was ~45 µs for one row, ~170 µs for fifty), and each batch binds its values.
  const insertTexts = new Map<number, string>();
  const insertRows = async (checkins: Checkin[]) => {
    const rows = checkins.map(checkinRow);
    let text = insertTexts.get(rows.length);
    if (text === undefined) {
      text = db
        .insertInto('checkins')
        .values(rows)
        .onConflict((oc) => oc.columns(['session_id', 'user_id']).doNothing())
        .returning(['session_id', 'user_id'])
        .compile().sql;
      insertTexts.set(rows.length, text);
    }
    // Every row has checkinRow's keys in checkinRow's order: the columns Kysely wrote, in order.
    const result = await db.executeQuery<{ session_id: string; user_id: string }>(CompiledQuery.raw(text, rows.flatMap((row) => Object.values(row))));
    return new Set(result.rows.map((r) => keyOf(r.session_id, r.user_id)));
  };
  async function flushCheckins() {
    const batch = pending.splice(0, pending.length);
    if (batch.length === 0) return;
    // A student twice in one batch (a double tap): the first is inserted; the others then find
    // it (or share the first's error).
    const firsts = new Map<string, Pending>();
    const repeats = new Map<string, Pending[]>();
    for (const item of batch) {
      const key = keyOf(item.checkin.sessionId, item.checkin.userId);
      if (firsts.has(key)) repeats.set(key, [...(repeats.get(key) ?? []), item]);
      else firsts.set(key, item);
    }
    const settle = (key: string, item: Pending, outcome: { inserted: boolean } | { error: unknown }) => {
      for (const waiting of [item, ...(repeats.get(key) ?? [])]) {
        if ('error' in outcome) waiting.reject(outcome.error);
        else waiting.resolve(waiting === item && outcome.inserted);
      }
    };
    try {
      const inserted = await run(() => insertRows([...firsts.values()].map((p) => p.checkin)));
      for (const [key, item] of firsts) settle(key, item, { inserted: inserted.has(key) });
    } catch {
      await Promise.all(
        [...firsts].map(([key, item]) =>
          run(() => insertRows([item.checkin])).then(
            (inserted) => settle(key, item, { inserted: inserted.size > 0 }),
            (error: unknown) => settle(key, item, { error }),
          ),
        ),
      );
    }
  }
  /** Rows per batch: 10 parameters each, far below SQLite's bound-parameter limit. */
  const CHECKIN_BATCH = 200;
  const insertBatched = (checkin: Checkin) =>
    new Promise<boolean>((resolve, reject) => {
      if (pending.push({ checkin, resolve, reject }) === 1) setImmediate(() => void flushCheckins());
      else if (pending.length >= CHECKIN_BATCH) void flushCheckins();
    });

  return {
    insertCourse(course) {
      return run(async () => {
        await db.transaction().execute(async (trx) => {
          await trx
            .insertInto('courses')
            .values({
              id: course.id,
              name: course.name,
              code: course.code,
              owner_id: course.ownerId,
              period_seconds: course.periodSeconds,
              late_after_minutes: course.lateAfterMinutes,
              shared_device_policy: course.sharedDevicePolicy,
              created_at: encodeDate(course.createdAt),
            })
            .execute();
          await trx.insertInto('course_teachers').values({ course_id: course.id, user_id: course.ownerId }).execute();
        });
      });
    },

    findCourse(id) {
      return run(async () => {
        const row = await db.selectFrom('courses').selectAll().where('id', '=', id).executeTakeFirst();
        return row === undefined ? null : rowToCourse(row);
      });
    },

    updateCourse(id, patch: CoursePatch) {
      return run(async () => {
        const values: Partial<CoursesTable> = {};
        if (patch.name !== undefined) values.name = patch.name;
        if (patch.code !== undefined) values.code = patch.code;
        if (patch.periodSeconds !== undefined) values.period_seconds = patch.periodSeconds;
        if (patch.lateAfterMinutes !== undefined) values.late_after_minutes = patch.lateAfterMinutes;
        if (patch.sharedDevicePolicy !== undefined) values.shared_device_policy = patch.sharedDevicePolicy;
        if (Object.keys(values).length > 0) await db.updateTable('courses').set(values).where('id', '=', id).execute();
        const row = await db.selectFrom('courses').selectAll().where('id', '=', id).executeTakeFirst();
        return row === undefined ? null : rowToCourse(row);
      });
    },

    listCoursesTaughtBy(userId) {
      return run(async () => {
        const rows = await db
          .selectFrom('courses')
          .innerJoin('course_teachers', 'course_teachers.course_id', 'courses.id')
          .selectAll('courses')
          .where('course_teachers.user_id', '=', userId)
          .orderBy('courses.name')
          .orderBy('courses.id')
          .execute();
        return rows.map(rowToCourse);
      });
    },

    listAllCourses() {
      return run(async () => (await db.selectFrom('courses').selectAll().orderBy('name').orderBy('id').execute()).map(rowToCourse));
    },

    listCoursesOfStudent(userId) {
      return run(async () => {
        const rows = await db
          .selectFrom('courses')
          .innerJoin('course_roster', 'course_roster.course_id', 'courses.id')
          .selectAll('courses')
          .where('course_roster.user_id', '=', userId)
          .orderBy('courses.name')
          .orderBy('courses.id')
          .execute();
        return rows.map(rowToCourse);
      });
    },

    setTeachers(courseId, userIds) {
      return run(async () => {
        await db.transaction().execute(async (trx) => {
          await trx.deleteFrom('course_teachers').where('course_id', '=', courseId).execute();
          const unique = [...new Set(userIds)];
          if (unique.length > 0) {
            await trx
              .insertInto('course_teachers')
              .values(unique.map((user_id) => ({ course_id: courseId, user_id })))
              .execute();
          }
        });
      });
    },

    listTeachers(courseId) {
      return run(async () =>
        (await db.selectFrom('course_teachers').select('user_id').where('course_id', '=', courseId).orderBy('user_id').execute()).map(
          (r) => r.user_id,
        ),
      );
    },

    isTeacher(courseId, userId) {
      return run(async () => {
        const row = await db
          .selectFrom('course_teachers')
          .select('user_id')
          .where('course_id', '=', courseId)
          .where('user_id', '=', userId)
          .executeTakeFirst();
        return row !== undefined;
      });
    },

    addToRoster(entries) {
      if (entries.length === 0) return Promise.resolve(0);
      return run(() =>
        db.transaction().execute(async (trx) => {
          let added = 0;
          for (let i = 0; i < entries.length; i += ROSTER_CHUNK) {
            const rows = await trx
              .insertInto('course_roster')
              .values(
                entries.slice(i, i + ROSTER_CHUNK).map((e) => ({
                  course_id: e.courseId,
                  user_id: e.userId,
                  walk_in: encodeBool(e.walkIn),
                  added_at: encodeDate(e.addedAt),
                })),
              )
              .onConflict((oc) => oc.columns(['course_id', 'user_id']).doNothing())
              .returning('user_id')
              .execute();
            added += rows.length;
          }
          return added;
        }),
      );
    },

    removeFromRoster(courseId, userId) {
      return run(async () => {
        const result = await db
          .deleteFrom('course_roster')
          .where('course_id', '=', courseId)
          .where('user_id', '=', userId)
          .executeTakeFirst();
        return Number(result.numDeletedRows) > 0;
      });
    },

    listRoster(courseId) {
      return run(async () =>
        (await db.selectFrom('course_roster').selectAll().where('course_id', '=', courseId).orderBy('added_at').orderBy('user_id').execute()).map(
          rowToRoster,
        ),
      );
    },

    findRosterEntry(courseId, userId) {
      return run(async () => {
        const row = await db
          .selectFrom('course_roster')
          .selectAll()
          .where('course_id', '=', courseId)
          .where('user_id', '=', userId)
          .executeTakeFirst();
        return row === undefined ? null : rowToRoster(row);
      });
    },

    insertSession(session) {
      return run(async () => {
        await db
          .insertInto('attendance_sessions')
          .values({
            id: session.id,
            course_id: session.courseId,
            name: session.name,
            secret: session.secret,
            starts_at: encodeDate(session.startsAt),
            ends_at: encodeDate(session.endsAt),
            ended_at: session.endedAt === null ? null : encodeDate(session.endedAt),
            open: encodeBool(session.open),
            created_at: encodeDate(session.createdAt),
          })
          .execute();
      });
    },

    findSession(id) {
      return run(async () => {
        const row = await db.selectFrom('attendance_sessions').selectAll().where('id', '=', id).executeTakeFirst();
        return row === undefined ? null : rowToSession(row);
      });
    },

    listSessions(courseId) {
      return run(async () =>
        (
          await db
            .selectFrom('attendance_sessions')
            .selectAll()
            .where('course_id', '=', courseId)
            .orderBy('starts_at', 'desc')
            .orderBy('id', 'desc')
            .execute()
        ).map(rowToSession),
      );
    },

    endSession(id, now) {
      return run(async () => {
        const result = await db
          .updateTable('attendance_sessions')
          .set({ ended_at: encodeDate(now) })
          .where('id', '=', id)
          .where('ended_at', 'is', null)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      });
    },

    async insertCheckin(checkin) {
      if (await insertBatched(checkin)) return { inserted: true, checkin };
      const existing = await findCheckin(checkin.sessionId, checkin.userId);
      // Deleted between the two statements (its session or user went): nothing to compare with.
      if (existing === null) return { inserted: true, checkin };
      return { inserted: false, existing };
    },

    upsertCheckin(checkin) {
      return run(async () => {
        const row = checkinRow(checkin);
        const { session_id: _s, user_id: _u, ...changes } = row;
        await db
          .insertInto('checkins')
          .values(row)
          .onConflict((oc) => oc.columns(['session_id', 'user_id']).doUpdateSet(changes))
          .execute();
        return checkin;
      });
    },

    findCheckin,

    listCheckins(sessionId) {
      return run(async () =>
        (await db.selectFrom('checkins').selectAll().where('session_id', '=', sessionId).orderBy('at').orderBy('user_id').execute()).map(
          rowToCheckin,
        ),
      );
    },

    listCheckinsOfCourse(courseId) {
      return run(async () =>
        (
          await db
            .selectFrom('checkins')
            .innerJoin('attendance_sessions', 'attendance_sessions.id', 'checkins.session_id')
            .selectAll('checkins')
            .where('attendance_sessions.course_id', '=', courseId)
            .orderBy('checkins.at')
            .execute()
        ).map(rowToCheckin),
      );
    },

    listCheckinsOfUser(courseId, userId) {
      return run(async () =>
        (
          await db
            .selectFrom('checkins')
            .innerJoin('attendance_sessions', 'attendance_sessions.id', 'checkins.session_id')
            .selectAll('checkins')
            .where('attendance_sessions.course_id', '=', courseId)
            .where('checkins.user_id', '=', userId)
            .orderBy('checkins.at')
            .execute()
        ).map(rowToCheckin),
      );
    },

    otherUsersOfDevice(sessionId, deviceId, userId) {
      return run(async () =>
        (
          await db
            .selectFrom('checkins')
            .select('user_id')
            .where('session_id', '=', sessionId)
            .where('device_id', '=', deviceId)
            .where('user_id', '!=', userId)
            .execute()
        ).map((r) => r.user_id),
      );
    },
  };
}

/** The attendance tables (migration 0007_attendance). */
export async function createAttendanceTables(db: Kysely<unknown>, timestamp: string, flag: string): Promise<void> {
  await db.schema
    .createTable('courses')
    .addColumn('id', 'varchar(24)', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('code', 'text')
    // No foreign key: a course and its records outlive the account of the teacher who made it.
    .addColumn('owner_id', 'varchar(24)', (c) => c.notNull())
    .addColumn('period_seconds', 'integer', (c) => c.notNull())
    .addColumn('late_after_minutes', 'integer', (c) => c.notNull())
    .addColumn('shared_device_policy', 'varchar(16)', (c) => c.notNull())
    .addColumn('created_at', sql.raw(timestamp), (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('course_teachers')
    .addColumn('course_id', 'varchar(24)', (c) => c.notNull().references('courses.id').onDelete('cascade'))
    .addColumn('user_id', 'varchar(24)', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('course_teachers_pkey', ['course_id', 'user_id'])
    .execute();
  await db.schema.createIndex('course_teachers_user_idx').on('course_teachers').column('user_id').execute();
  await db.schema
    .createTable('course_roster')
    .addColumn('course_id', 'varchar(24)', (c) => c.notNull().references('courses.id').onDelete('cascade'))
    .addColumn('user_id', 'varchar(24)', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('walk_in', sql.raw(flag), (c) => c.notNull())
    .addColumn('added_at', sql.raw(timestamp), (c) => c.notNull())
    .addPrimaryKeyConstraint('course_roster_pkey', ['course_id', 'user_id'])
    .execute();
  await db.schema.createIndex('course_roster_user_idx').on('course_roster').column('user_id').execute();
  await db.schema
    .createTable('attendance_sessions')
    .addColumn('id', 'varchar(24)', (c) => c.primaryKey())
    .addColumn('course_id', 'varchar(24)', (c) => c.notNull().references('courses.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('secret', 'varchar(64)', (c) => c.notNull())
    .addColumn('starts_at', sql.raw(timestamp), (c) => c.notNull())
    .addColumn('ends_at', sql.raw(timestamp), (c) => c.notNull())
    .addColumn('ended_at', sql.raw(timestamp))
    .addColumn('open', sql.raw(flag), (c) => c.notNull())
    .addColumn('created_at', sql.raw(timestamp), (c) => c.notNull())
    .execute();
  await db.schema.createIndex('attendance_sessions_course_idx').on('attendance_sessions').columns(['course_id', 'starts_at']).execute();
  await db.schema
    .createTable('checkins')
    .addColumn('session_id', 'varchar(24)', (c) => c.notNull().references('attendance_sessions.id').onDelete('cascade'))
    .addColumn('user_id', 'varchar(24)', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('method', 'varchar(16)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('flags', 'text', (c) => c.notNull())
    .addColumn('at', sql.raw(timestamp), (c) => c.notNull())
    .addColumn('device_id', 'varchar(64)')
    .addColumn('note', 'text')
    .addColumn('marked_by', 'varchar(24)')
    .addColumn('recorded_at', sql.raw(timestamp), (c) => c.notNull())
    .addPrimaryKeyConstraint('checkins_pkey', ['session_id', 'user_id'])
    .execute();
  await db.schema.createIndex('checkins_device_idx').on('checkins').columns(['session_id', 'device_id']).execute();
  await db.schema.createIndex('checkins_user_idx').on('checkins').column('user_id').execute();
}
