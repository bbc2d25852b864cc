/**
 * The audit log: every security event (logins, refreshes, reuse detection, logouts, password and
 * role changes, 2FA changes, deletions) with time, user, actor, IP and user agent. Recording
 * never fails the request it belongs to: a store error is logged instead.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { AuditEvent, Store } from '../store/store.js';
import { newSequentialId } from '../users/ids.js';

export type AuditType =
  | 'user.registered'
  | 'user.created'
  | 'user.updated'
  | 'user.deleted'
  | 'user.role_changed'
  | 'user.disabled'
  | 'user.enabled'
  | 'login.succeeded'
  | 'login.failed'
  | 'login.locked'
  | 'refresh.succeeded'
  | 'refresh.reuse_detected'
  | 'logout'
  | 'logout.all'
  | 'session.revoked'
  | 'password.changed'
  | 'password.reset_requested'
  | 'password.reset'
  | 'email.verified'
  | 'mfa.enabled'
  | 'mfa.disabled'
  | 'mfa.reset'
  | 'mfa.succeeded'
  | 'mfa.failed'
  | 'mfa.recovery_codes_regenerated'
  | 'qr_login.approved'
  | 'qr_login.denied'
  | 'qr_login.completed'
  | 'attendance.teachers_changed'
  | 'attendance.marked'
  | 'passkey.registered'
  | 'passkey.renamed'
  | 'passkey.removed'
  | 'passkey.used'
  | 'passkey.rejected'
  | 'passkey.counter_regression'
  | 'oidc.client_created'
  | 'oidc.client_deleted'
  | 'oidc.consent_granted'
  | 'oidc.consent_denied'
  | 'oidc.token_failed';

/** Who and where a request came from. */
export interface RequestContext {
  ip: string | null;
  userAgent: string | null;
}

export interface AuditEntry {
  userId?: string | null;
  actorId?: string | null;
  context?: RequestContext;
  /** Event-specific facts; never a secret. */
  detail?: Record<string, unknown>;
}

export interface AuditLog {
  record(type: AuditType, entry: AuditEntry): Promise<void>;
  list(query: { limit: number; before?: string; userId?: string; type?: string }): Promise<AuditEvent[]>;
}

export function createAuditLog(store: Store, log: Pick<FastifyBaseLogger, 'error'>): AuditLog {
  return {
    async record(type, entry) {
      const at = new Date();
      try {
        await store.audit.insert({
          id: newSequentialId(at),
          at,
          type,
          userId: entry.userId ?? null,
          actorId: entry.actorId ?? null,
          ip: entry.context?.ip ?? null,
          userAgent: entry.context?.userAgent?.slice(0, 512) ?? null,
          detail: entry.detail === undefined ? null : JSON.stringify(entry.detail),
        });
      } catch (error) {
        log.error({ err: error, type }, 'audit event not recorded');
      }
    },
    list: (query) => store.audit.list(query),
  };
}
