/**
 * Attendance over MongoDB: courses (their teachers as an array in the course), roster entries,
 * sessions and check-ins, each in a collection of its own. Uniqueness is the `_id`: a roster entry
 * is "<course>:<user>", a check-in "<session>:<user>", so a duplicate insert fails atomically on
 * any server, without transactions.
 */
import type { Collection, Db } from 'mongodb';
import type {
  AttendanceSession,
  AttendanceStore,
  Checkin,
  Course,
  RosterEntry,
} from '../attendance-store.js';
import type { MongoRunner } from './auth-stores.js';

interface CourseDocument extends Omit<Course, 'id'> {
  _id: string;
  teacherIds: string[];
}
interface RosterDocument extends RosterEntry {
  _id: string;
}
interface SessionDocument extends Omit<AttendanceSession, 'id'> {
  _id: string;
}
interface CheckinDocument extends Checkin {
  _id: string;
}

const DUPLICATE_KEY = 11000;
const isDuplicate = (error: unknown) => (error as { code?: number } | null)?.code === DUPLICATE_KEY;

const docToCourse = ({ _id, teacherIds: _t, ...rest }: CourseDocument): Course => ({ id: _id, ...rest });
const docToSession = ({ _id, ...rest }: SessionDocument): AttendanceSession => ({ id: _id, ...rest });
const docToRoster = ({ _id: _ignored, ...rest }: RosterDocument): RosterEntry => rest;
const docToCheckin = ({ _id: _ignored, ...rest }: CheckinDocument): Checkin => rest;
const checkinKey = (sessionId: string, userId: string) => `${sessionId}:${userId}`;

export interface AttendanceCollections {
  courses: Collection<CourseDocument>;
  roster: Collection<RosterDocument>;
  sessions: Collection<SessionDocument>;
  checkins: Collection<CheckinDocument>;
}

export function attendanceCollections(db: Db): AttendanceCollections {
  return {
    courses: db.collection<CourseDocument>('courses'),
    roster: db.collection<RosterDocument>('course_roster'),
    sessions: db.collection<SessionDocument>('attendance_sessions'),
    checkins: db.collection<CheckinDocument>('checkins'),
  };
}

export async function migrateAttendance(c: AttendanceCollections): Promise<void> {
  await c.courses.createIndex({ teacherIds: 1, name: 1 }, { name: 'teacherIds_1_name_1' });
  await c.roster.createIndex({ userId: 1 }, { name: 'userId_1' });
  await c.roster.createIndex({ courseId: 1, addedAt: 1 }, { name: 'courseId_1_addedAt_1' });
  await c.sessions.createIndex({ courseId: 1, startsAt: -1 }, { name: 'courseId_1_startsAt_-1' });
  await c.checkins.createIndex({ sessionId: 1, at: 1 }, { name: 'sessionId_1_at_1' });
  await c.checkins.createIndex({ sessionId: 1, deviceId: 1 }, { name: 'sessionId_1_deviceId_1' });
  await c.checkins.createIndex({ userId: 1 }, { name: 'userId_1' });
}

/** A deleted user's roster entries and check-ins go with them (the SQL stores cascade). */
export async function deleteAttendanceOfUser(c: AttendanceCollections, userId: string): Promise<void> {
  await c.roster.deleteMany({ userId });
  await c.checkins.deleteMany({ userId });
  await c.courses.updateMany({ teacherIds: userId }, { $pull: { teacherIds: userId } });
}

export function createMongoAttendanceStore(c: AttendanceCollections, run: MongoRunner): AttendanceStore {
  const sessionIdsOf = async (courseId: string) =>
    (await c.sessions.find({ courseId }, { projection: { _id: 1 } }).toArray()).map((s) => s._id);

  const findCheckin = (sessionId: string, userId: string) =>
    run(async () => {
      const doc = await c.checkins.findOne({ _id: checkinKey(sessionId, userId) });
      return doc === null ? null : docToCheckin(doc);
    });

  return {
    insertCourse(course) {
      return run(async () => {
        const { id, ...rest } = course;
        await c.courses.insertOne({ _id: id, ...rest, teacherIds: [course.ownerId] });
      });
    },
    findCourse(id) {
      return run(async () => {
        const doc = await c.courses.findOne({ _id: id });
        return doc === null ? null : docToCourse(doc);
      });
    },
    updateCourse(id, patch) {
      return run(async () => {
        const set = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
        const doc =
          Object.keys(set).length === 0
            ? await c.courses.findOne({ _id: id })
            : await c.courses.findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: 'after' });
        return doc === null ? null : docToCourse(doc);
      });
    },
    listCoursesTaughtBy(userId) {
      return run(async () => (await c.courses.find({ teacherIds: userId }).sort({ name: 1, _id: 1 }).toArray()).map(docToCourse));
    },
    listAllCourses() {
      return run(async () => (await c.courses.find({}).sort({ name: 1, _id: 1 }).toArray()).map(docToCourse));
    },
    listCoursesOfStudent(userId) {
      return run(async () => {
        const ids = (await c.roster.find({ userId }).toArray()).map((r) => r.courseId);
        return (await c.courses.find({ _id: { $in: ids } }).sort({ name: 1, _id: 1 }).toArray()).map(docToCourse);
      });
    },
    setTeachers(courseId, userIds) {
      return run(async () => {
        await c.courses.updateOne({ _id: courseId }, { $set: { teacherIds: [...new Set(userIds)] } });
      });
    },
    listTeachers(courseId) {
      return run(async () => [...((await c.courses.findOne({ _id: courseId }))?.teacherIds ?? [])].sort());
    },
    isTeacher(courseId, userId) {
      return run(async () => (await c.courses.countDocuments({ _id: courseId, teacherIds: userId }, { limit: 1 })) > 0);
    },
    addToRoster(entries) {
      if (entries.length === 0) return Promise.resolve(0);
      return run(async () => {
        try {
          const result = await c.roster.insertMany(
            entries.map((e) => ({ _id: `${e.courseId}:${e.userId}`, ...e })),
            { ordered: false },
          );
          return result.insertedCount;
        } catch (error) {
          // Some were on the roster already: the others went in (unordered insert).
          if (isDuplicate(error) || (error as { writeErrors?: unknown }).writeErrors !== undefined) {
            return (error as { result?: { insertedCount?: number } }).result?.insertedCount ?? 0;
          }
          throw error;
        }
      });
    },
    removeFromRoster(courseId, userId) {
      return run(async () => (await c.roster.deleteOne({ _id: `${courseId}:${userId}` })).deletedCount > 0);
    },
    listRoster(courseId) {
      return run(async () => (await c.roster.find({ courseId }).sort({ addedAt: 1, userId: 1 }).toArray()).map(docToRoster));
    },
    findRosterEntry(courseId, userId) {
      return run(async () => {
        const doc = await c.roster.findOne({ _id: `${courseId}:${userId}` });
        return doc === null ? null : docToRoster(doc);
      });
    },
    insertSession(session) {
      return run(async () => {
        const { id, ...rest } = session;
        await c.sessions.insertOne({ _id: id, ...rest });
      });
    },
    findSession(id) {
      return run(async () => {
        const doc = await c.sessions.findOne({ _id: id });
        return doc === null ? null : docToSession(doc);
      });
    },
    listSessions(courseId) {
      return run(async () => (await c.sessions.find({ courseId }).sort({ startsAt: -1, _id: -1 }).toArray()).map(docToSession));
    },
    endSession(id, now) {
      return run(async () => (await c.sessions.updateOne({ _id: id, endedAt: null }, { $set: { endedAt: now } })).modifiedCount > 0);
    },
    async insertCheckin(checkin) {
      try {
        await run(() => c.checkins.insertOne({ _id: checkinKey(checkin.sessionId, checkin.userId), ...checkin }));
        return { inserted: true, checkin };
      } catch (error) {
        // translateMongoError turns a duplicate key into a Conflict.
        if (!(error instanceof Error && error.name === 'Conflict')) throw error;
        const existing = await findCheckin(checkin.sessionId, checkin.userId);
        return existing === null ? { inserted: true, checkin } : { inserted: false, existing };
      }
    },
    upsertCheckin(checkin) {
      return run(async () => {
        await c.checkins.replaceOne({ _id: checkinKey(checkin.sessionId, checkin.userId) }, checkin, { upsert: true });
        return checkin;
      });
    },
    findCheckin,
    listCheckins(sessionId) {
      return run(async () => (await c.checkins.find({ sessionId }).sort({ at: 1, userId: 1 }).toArray()).map(docToCheckin));
    },
    listCheckinsOfCourse(courseId) {
      return run(async () => {
        const sessionIds = await sessionIdsOf(courseId);
        return (await c.checkins.find({ sessionId: { $in: sessionIds } }).sort({ at: 1 }).toArray()).map(docToCheckin);
      });
    },
    listCheckinsOfUser(courseId, userId) {
      return run(async () => {
        const sessionIds = await sessionIdsOf(courseId);
        return (await c.checkins.find({ userId, sessionId: { $in: sessionIds } }).sort({ at: 1 }).toArray()).map(docToCheckin);
      });
    },
    otherUsersOfDevice(sessionId, deviceId, userId) {
      return run(async () =>
        (await c.checkins.find({ sessionId, deviceId, userId: { $ne: userId } }, { projection: { userId: 1 } }).toArray()).map((d) => d.userId),
      );
    },
  };
}
