/**
 * The admin pages, /manage/...: users (list, create, one user and what an admin may do to them),
 * the audit log and, without a mail server, the outbox. Admins only: anyone else gets the sign-in
 * page or the 403 page (kit.requireAdmin); every form is CSRF-checked (kit.post). The rules are
 * the services' (the same as /users, /admin/audit and /admin/outbox, which stay the JSON API's).
 */
import type { FastifyInstance } from 'fastify';
import type { AuditLog } from '../../../audit/audit-log.js';
import type { PasskeyService } from '../../../auth/passkeys/passkey-service.js';
import type { TotpService } from '../../../auth/totp/totp-service.js';
import type { DevOutbox } from '../../../mail/dev-outbox.js';
import type { UserService } from '../../../users/user-service.js';
import type { WebKit } from '../../web-kit.js';
import { auditPage } from './audit-page.js';
import { outboxPage } from './outbox-page.js';
import { userPages } from './user-pages.js';
import { usersListPages } from './users-list-pages.js';

export interface ManageDeps {
  kit: WebKit;
  users: UserService;
  totp: TotpService;
  /** A user's passkeys, listed and removed on their page. */
  passkeys: PasskeyService;
  audit: AuditLog;
  /** The development outbox; null when mail goes out through SMTP. */
  outbox: DevOutbox | null;
  /** The service's public base URL (http/public-url.ts): only links to it are clickable in the outbox. */
  publicUrl: () => string | null;
  /** Whether /manage/apps exists (the OpenID Connect provider is on): the navigation links it. */
  appsOn: boolean;
}

export function managePages(deps: ManageDeps) {
  return async (app: FastifyInstance) => {
    await app.register(usersListPages(deps));
    await app.register(userPages(deps));
    await app.register(auditPage(deps));
    await app.register(outboxPage(deps));
  };
}
