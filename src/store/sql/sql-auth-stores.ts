/**
 * Sessions (refresh-token families), single-use tokens and the audit log over Kysely, for
 * SQLite and PostgreSQL alike.
 */
import type { Kysely, Selectable } from 'kysely';
import type {
  AuditEvent,
  AuditStore,
  OneTimePurpose,
  OneTimeToken,
  OneTimeTokenStore,
  Session,
  SessionStore,
} from '../store.js';
import { toDate, toDateOrNull } from './dates.js';
import type { Runner } from './sql-store.js';
import type { AuditEventsTable, OneTimeTokensTable, SessionsTable, Tables } from './tables.js';

type EncodeDate = (date: Date) => string | Date;


function rowToSession(row: Selectable<SessionsTable>): Session {
  return {
    id: row.id,
    userId: row.user_id,
    kind: row.kind === 'browser' ? 'browser' : 'api',
    createdAt: toDate(row.created_at),
    lastUsedAt: toDate(row.last_used_at),
    expiresAt: toDate(row.expires_at),
    revokedAt: toDateOrNull(row.revoked_at),
    userAgent: row.user_agent,
    ip: row.ip,
  };
}

function rowToOneTimeToken(row: Selectable<OneTimeTokensTable>): OneTimeToken {
  return {
    hash: row.hash,
    purpose: row.purpose as OneTimePurpose,
    userId: row.user_id,
    createdAt: toDate(row.created_at),
    expiresAt: toDateOrNull(row.expires_at),
    data: row.data,
  };
}

function rowToAuditEvent(row: Selectable<AuditEventsTable>): AuditEvent {
  return {
    id: row.id,
    at: toDate(row.at),
    type: row.type,
    userId: row.user_id,
    actorId: row.actor_id,
    ip: row.ip,
    userAgent: row.user_agent,
    detail: row.detail,
  };
}

export function createSqlSessionStore(db: Kysely<Tables>, run: Runner, encodeDate: EncodeDate): SessionStore {
  return {
    create(session, firstTokenHash) {
      return run(() =>
        db.transaction().execute(async (trx) => {
          await trx
            .insertInto('sessions')
            .values({
              id: session.id,
              user_id: session.userId,
              kind: session.kind,
              created_at: encodeDate(session.createdAt),
              last_used_at: encodeDate(session.lastUsedAt),
              expires_at: encodeDate(session.expiresAt),
              revoked_at: session.revokedAt && encodeDate(session.revokedAt),
              user_agent: session.userAgent,
              ip: session.ip,
            })
            .execute();
          await trx
            .insertInto('refresh_tokens')
            .values({ hash: firstTokenHash, session_id: session.id, created_at: encodeDate(session.createdAt), used_at: null })
            .execute();
        }),
      );
    },

    findByTokenHash(hash) {
      return run(async () => {
        const row = await db
          .selectFrom('refresh_tokens as t')
          .innerJoin('sessions as s', 's.id', 't.session_id')
          .selectAll('s')
          .select(['t.hash', 't.session_id', 't.created_at as token_created_at', 't.used_at'])
          .where('t.hash', '=', hash)
          .executeTakeFirst();
        if (row === undefined) return null;
        return {
          session: rowToSession(row),
          token: {
            hash: row.hash,
            sessionId: row.session_id,
            createdAt: toDate(row.token_created_at),
            usedAt: toDateOrNull(row.used_at),
          },
        };
      });
    },

    rotate(oldHash, newHash, now) {
      return run(() =>
        db.transaction().execute(async (trx) => {
          // The compare-and-set that makes a refresh token single-use, even under a race.
          const used = await trx
            .updateTable('refresh_tokens')
            .set({ used_at: encodeDate(now) })
            .where('hash', '=', oldHash)
            .where('used_at', 'is', null)
            .returning('session_id')
            .executeTakeFirst();
          if (used === undefined) return false;
          await trx
            .insertInto('refresh_tokens')
            .values({ hash: newHash, session_id: used.session_id, created_at: encodeDate(now), used_at: null })
            .execute();
          await trx.updateTable('sessions').set({ last_used_at: encodeDate(now) }).where('id', '=', used.session_id).execute();
          return true;
        }),
      );
    },

    revoke(sessionId, now) {
      return run(async () => {
        const result = await db
          .updateTable('sessions')
          .set({ revoked_at: encodeDate(now) })
          .where('id', '=', sessionId)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      });
    },

    revokeAllOfUser(userId, now) {
      return run(async () => {
        const result = await db
          .updateTable('sessions')
          .set({ revoked_at: encodeDate(now) })
          .where('user_id', '=', userId)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        return Number(result.numUpdatedRows);
      });
    },

    touch(sessionId, now) {
      return run(async () => {
        await db.updateTable('sessions').set({ last_used_at: encodeDate(now) }).where('id', '=', sessionId).execute();
      });
    },

    listActive(userId, now) {
      return run(async () => {
        const rows = await db
          .selectFrom('sessions')
          .selectAll()
          .where('user_id', '=', userId)
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', encodeDate(now))
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .execute();
        return rows.map(rowToSession);
      });
    },
  };
}

export function createSqlOneTimeTokenStore(db: Kysely<Tables>, run: Runner, encodeDate: EncodeDate): OneTimeTokenStore {
  return {
    insert(token) {
      return run(async () => {
        await db
          .insertInto('one_time_tokens')
          .values({
            hash: token.hash,
            purpose: token.purpose,
            user_id: token.userId,
            created_at: encodeDate(token.createdAt),
            expires_at: token.expiresAt && encodeDate(token.expiresAt),
            data: token.data,
          })
          .execute();
      });
    },

    consume(hash, purpose, now) {
      return run(async () => {
        const row = await db
          .deleteFrom('one_time_tokens')
          .where('hash', '=', hash)
          .where('purpose', '=', purpose)
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', encodeDate(now))]))
          .returningAll()
          .executeTakeFirst();
        return row === undefined ? null : rowToOneTimeToken(row);
      });
    },

    find(hash, purpose, now) {
      return run(async () => {
        const row = await db
          .selectFrom('one_time_tokens')
          .selectAll()
          .where('hash', '=', hash)
          .where('purpose', '=', purpose)
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', encodeDate(now))]))
          .executeTakeFirst();
        return row === undefined ? null : rowToOneTimeToken(row);
      });
    },

    deleteForUser(userId, purpose) {
      return run(async () => {
        const result = await db
          .deleteFrom('one_time_tokens')
          .where('user_id', '=', userId)
          .where('purpose', '=', purpose)
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      });
    },

    countForUser(userId, purpose) {
      return run(async () => {
        const row = await db
          .selectFrom('one_time_tokens')
          .select((eb) => eb.fn.countAll<string | number>().as('n'))
          .where('user_id', '=', userId)
          .where('purpose', '=', purpose)
          .executeTakeFirstOrThrow();
        return Number(row.n);
      });
    },
  };
}

export function createSqlAuditStore(db: Kysely<Tables>, run: Runner, encodeDate: EncodeDate): AuditStore {
  return {
    insert(event) {
      return run(async () => {
        await db
          .insertInto('audit_events')
          .values({
            id: event.id,
            at: encodeDate(event.at),
            type: event.type,
            user_id: event.userId,
            actor_id: event.actorId,
            ip: event.ip,
            user_agent: event.userAgent,
            detail: event.detail,
          })
          .execute();
      });
    },

    list(query) {
      return run(async () => {
        let q = db.selectFrom('audit_events').selectAll().orderBy('id', 'desc').limit(query.limit);
        if (query.before !== undefined) q = q.where('id', '<', query.before);
        if (query.userId !== undefined) q = q.where('user_id', '=', query.userId);
        if (query.type !== undefined) q = q.where('type', '=', query.type);
        return (await q.execute()).map(rowToAuditEvent);
      });
    },
  };
}
