/**
 * Sign in by QR, across devices (after RFC 8628, the device authorization grant). A browser or TV
 * starts a short-lived request and shows its QR; a phone where the user is signed in reads who
 * asks (user agent, IP, time) and approves or denies; the first device, polling with the secret
 * only it was given, receives its tokens once.
 *
 * Stored as one-time tokens, hashed like every other: the pending request under hash(id)
 * ('qr_login'), the approval under hash("approved:" + id) ('qr_login_approved'). The id is in the
 * QR, so anyone near the screen may see it; the secret never leaves the first device, so seeing
 * the QR is not enough to collect the tokens. Each step that uses a request up is one atomic
 * consume, so two approvals, or two collections after approval, cannot both win.
 *
 * Reading the status (GET) never changes anything; collecting the tokens is a POST. Approving
 * needs a live session (a logged-out or expired one cannot sign another device in), and the new
 * session ends no later than the approving one.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuditLog, RequestContext } from '../../audit/audit-log.js';
import { AppError, errors } from '../../errors.js';
import { encodeMatrix, renderPng } from '../../qr-render/render-png.js';
import { renderSvg } from '../../qr-render/render-svg.js';
import type { OneTimeToken, Store, User } from '../../store/store.js';
import type { LoginFlow } from '../login/login-flow.js';
import { hashToken, type SessionIssuer, type SessionService } from '../sessions/session-service.js';

/** How long a request may wait for approval, and for its tokens after it. */
export const QR_LOGIN_TTL_SECONDS = 120;
/** How often the first device should poll, in seconds (RFC 8628's `interval`). */
export const QR_LOGIN_POLL_INTERVAL_SECONDS = 2;
export const QR_LOGIN_ID_RE = /^[A-Za-z0-9_-]{22}$/;

export interface QrLoginStarted {
  id: string;
  secret: string;
  expires_in: number;
  interval: number;
  qr_data: string;
  qr_png_base64: string;
  qr_svg: string;
}

export interface QrLoginRequestInfo {
  id: string;
  status: 'pending' | 'denied';
  user_agent: string | null;
  ip: string | null;
  created_at: string;
  expires_at: string;
}

/** What the first device reads: never tokens. */
export type QrLoginStatus =
  | { status: 'pending'; expires_in: number; interval: number }
  | { status: 'denied' }
  | { status: 'approved' };

/** What it collects: once approved, a session from its issuer. */
export type QrLoginCollected<T> = Exclude<QrLoginStatus, { status: 'approved' }> | { status: 'approved'; signedIn: T };

export interface QrLoginService {
  start(context: RequestContext): Promise<QrLoginStarted>;
  /** The request's status for its first device; changes nothing. */
  status(id: string, secret: string): Promise<QrLoginStatus>;
  /**
   * Polls and collects: an approved request hands out a session from `issuer` (once: afterwards
   * it is gone), a denied one is used up.
   */
  collect<T>(id: string, secret: string, context: RequestContext, issuer: SessionIssuer<T>): Promise<QrLoginCollected<T>>;
  info(id: string): Promise<QrLoginRequestInfo>;
  /**
   * The QR of a request again (what start drew), for the device that keeps its id: a page shown
   * again after a reload. The id is what the QR shows anyway; nothing is read or checked here.
   */
  qrCode(id: string): Pick<QrLoginStarted, 'qr_data' | 'qr_svg'>;
  /** Approves as `user`, from the session `sessionId` (which must be live). */
  approve(user: User, sessionId: string | undefined, id: string, context: RequestContext): Promise<void>;
  deny(user: User, id: string, context: RequestContext): Promise<void>;
}

interface RequestData {
  secret_hash: string;
  user_agent: string | null;
  ip: string | null;
  created_at: string;
  status: 'pending' | 'denied';
}

const QR_RENDER = { margin: 4, scale: 8 };

const notFound = () =>
  new AppError(404, 'QR_LOGIN_NOT_FOUND', 'No such sign-in request: unknown, expired, or already used');
const alreadyDecided = () =>
  new AppError(409, 'QR_LOGIN_ALREADY_DECIDED', 'This sign-in request was already approved or denied');
const wrongSecret = () => new AppError(403, 'QR_LOGIN_SECRET_MISMATCH', 'Wrong secret for this sign-in request');
const sessionRequired = () =>
  new AppError(403, 'SESSION_REQUIRED', 'Approving a sign-in needs a live session: sign in again on this device');

const pendingKey = (id: string) => hashToken(id);
const approvedKey = (id: string) => hashToken(`approved:${id}`);

function dataOf(token: OneTimeToken): RequestData {
  return JSON.parse(token.data ?? '{}') as RequestData;
}

/** Compares hashes in constant time: the answer's timing says nothing about the secret. */
function checkSecret(token: OneTimeToken, secret: string): void {
  const expected = Buffer.from(dataOf(token).secret_hash ?? '', 'hex');
  const given = Buffer.from(hashToken(secret), 'hex');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw wrongSecret();
}

export function createQrLoginService(deps: {
  store: Store;
  users: { findById(id: string): Promise<User | null> };
  sessions: Pick<SessionService, 'liveSession'>;
  login: LoginFlow;
  audit: AuditLog;
  /** The service's base URL (http/public-url.ts): the QR then opens its approval page in any camera app. */
  publicUrl: () => string | null;
}): QrLoginService {
  const { store, users, login, audit } = deps;
  const tokens = store.oneTimeTokens;

  /** What the QR of a request says, and its modules. */
  function draw(id: string) {
    const base = deps.publicUrl();
    const qrData = base === null ? `authqr://login?id=${id}` : `${base}/qr-login?id=${encodeURIComponent(id)}`;
    // Drawn directly, not through the render cache: a one-off code would only push badges out.
    return { qrData, matrix: encodeMatrix(qrData, 'M') };
  }

  const secondsLeft = (token: OneTimeToken, now: Date) =>
    Math.max(0, Math.ceil(((token.expiresAt as Date).getTime() - now.getTime()) / 1000));

  /** Reads the request; with `collecting`, uses up a denial or hands out the approved session. */
  function poll(id: string, secret: string, collecting: null): Promise<QrLoginStatus>;
  function poll<T>(
    id: string,
    secret: string,
    collecting: { context: RequestContext; issuer: SessionIssuer<T> },
  ): Promise<QrLoginCollected<T>>;
  async function poll<T>(
    id: string,
    secret: string,
    collecting: { context: RequestContext; issuer: SessionIssuer<T> } | null,
  ): Promise<QrLoginStatus | QrLoginCollected<T>> {
    const now = new Date();
    let approved = await tokens.find(approvedKey(id), 'qr_login_approved', now);
    if (approved === null) {
      const pending = await tokens.find(pendingKey(id), 'qr_login', now);
      if (pending !== null) {
        checkSecret(pending, secret);
        if (dataOf(pending).status === 'denied') {
          if (collecting !== null) await tokens.consume(pending.hash, 'qr_login', now);
          return { status: 'denied' };
        }
        return { status: 'pending', expires_in: secondsLeft(pending, now), interval: QR_LOGIN_POLL_INTERVAL_SECONDS };
      }
      // Approval consumes the pending request, then stores the approval: look once more so a
      // poll that falls between the two does not report a request that is about to succeed as gone.
      approved = await tokens.find(approvedKey(id), 'qr_login_approved', now);
      if (approved === null) throw notFound();
    }
    // Checked before consuming: a wrong guess must not spoil the real device's sign-in.
    checkSecret(approved, secret);
    if (collecting === null) return { status: 'approved' };
    const { context, issuer } = collecting;
    const claimed = await tokens.consume(approved.hash, 'qr_login_approved', now);
    if (claimed === null || claimed.userId === null) throw notFound();
    const user = await users.findById(claimed.userId);
    if (user === null) throw notFound();
    if (user.disabled) throw errors.accountDisabled();
    await audit.record('qr_login.completed', { userId: user.id, context, detail: { mfa_required: user.totpEnabled } });
    const notAfter = (JSON.parse(claimed.data ?? '{}') as { not_after?: string }).not_after;
    // With a second factor on, this throws 401 MFA_REQUIRED and the first device finishes with
    // POST /auth/2fa/verify: approving needs only an access token, which is less than the factor.
    const signedIn = await login.complete(user, context, 'qr', issuer, { notAfter: notAfter ? new Date(notAfter) : undefined });
    return { status: 'approved', signedIn };
  }

  return {
    async start(context) {
      const id = randomBytes(16).toString('base64url');
      const secret = randomBytes(32).toString('base64url');
      const now = new Date();
      const data: RequestData = {
        secret_hash: hashToken(secret),
        user_agent: context.userAgent,
        ip: context.ip,
        created_at: now.toISOString(),
        status: 'pending',
      };
      await tokens.insert({
        hash: pendingKey(id),
        purpose: 'qr_login',
        userId: null,
        createdAt: now,
        expiresAt: new Date(now.getTime() + QR_LOGIN_TTL_SECONDS * 1000),
        data: JSON.stringify(data),
      });
      const { qrData, matrix } = draw(id);
      return {
        id,
        secret,
        expires_in: QR_LOGIN_TTL_SECONDS,
        interval: QR_LOGIN_POLL_INTERVAL_SECONDS,
        qr_data: qrData,
        qr_png_base64: renderPng(matrix, QR_RENDER).toString('base64'),
        qr_svg: renderSvg(matrix, QR_RENDER),
      };
    },

    qrCode(id) {
      const { qrData, matrix } = draw(id);
      return { qr_data: qrData, qr_svg: renderSvg(matrix, QR_RENDER) };
    },

    status: (id, secret) => poll(id, secret, null),
    collect: (id, secret, context, issuer) => poll(id, secret, { context, issuer }),

    async info(id) {
      const pending = await tokens.find(pendingKey(id), 'qr_login', new Date());
      if (pending === null) throw notFound();
      const data = dataOf(pending);
      return {
        id,
        status: data.status,
        user_agent: data.user_agent,
        ip: data.ip,
        created_at: data.created_at,
        expires_at: (pending.expiresAt as Date).toISOString(),
      };
    },

    async approve(user, sessionId, id, context) {
      // Checked first: a session that ended (or a token with none) uses nothing up.
      const session = await deps.sessions.liveSession(user, sessionId);
      if (session === null) throw sessionRequired();
      const now = new Date();
      const pending = await tokens.consume(pendingKey(id), 'qr_login', now);
      if (pending === null) {
        if ((await tokens.find(approvedKey(id), 'qr_login_approved', now)) !== null) throw alreadyDecided();
        throw notFound();
      }
      const data = dataOf(pending);
      if (data.status === 'denied') {
        await tokens.insert(pending); // put the denial back for the first device to read
        throw alreadyDecided();
      }
      await tokens.insert({
        hash: approvedKey(id),
        purpose: 'qr_login_approved',
        userId: user.id,
        createdAt: now,
        expiresAt: pending.expiresAt,
        data: JSON.stringify({
          secret_hash: data.secret_hash,
          approved_at: now.toISOString(),
          // The new session ends no later than the one that approved it.
          not_after: session.expiresAt.toISOString(),
        }),
      });
      await audit.record('qr_login.approved', {
        userId: user.id,
        context,
        detail: { requested_by: { ip: data.ip, user_agent: data.user_agent, at: data.created_at } },
      });
    },

    async deny(user, id, context) {
      const now = new Date();
      const pending = await tokens.consume(pendingKey(id), 'qr_login', now);
      if (pending === null) {
        if ((await tokens.find(approvedKey(id), 'qr_login_approved', now)) !== null) throw alreadyDecided();
        throw notFound();
      }
      const data = dataOf(pending);
      await tokens.insert({ ...pending, data: JSON.stringify({ ...data, status: 'denied' }) });
      // "This was not me": someone may be trying to get the user to approve their device.
      await audit.record('qr_login.denied', {
        userId: user.id,
        context,
        detail: { requested_by: { ip: data.ip, user_agent: data.user_agent, at: data.created_at } },
      });
    },
  };
}
