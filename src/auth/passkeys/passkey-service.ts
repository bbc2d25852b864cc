/**
 * Passkeys (WebAuthn): registering one, signing in with one, listing, renaming and removing them.
 * The rules, for the API and the pages alike:
 * - the relying party (RP ID, exact origins) comes from configuration only (relying-party.ts);
 * - a challenge is 32 random bytes kept in the Store (a one-time token, so any instance can finish
 *   what another began), bound to its ceremony and, for registration, to its user; it is deleted
 *   BEFORE the response is verified, so it is used once even when verification fails; 5 minutes;
 * - user verification is required (a passkey is then a complete sign-in, second factor included);
 * - a counter that goes backwards on a credential that had counted is refused and audited (a
 *   cloned authenticator?); synced passkeys that always say 0 keep working; backup eligibility
 *   never changes for a credential, and a change is refused;
 * - a sign-in goes through the same lock, disabled check, sessions and audit as a password;
 * - the last way to sign in (no password, one passkey) cannot be removed by its owner.
 */
import { randomBytes } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { AuditLog, RequestContext } from '../../audit/audit-log.js';
import { AppError, errors, ValidationFailed } from '../../errors.js';
import { Conflict, type Passkey, type Store, type User } from '../../store/store.js';
import type { LoginThrottle } from '../login/login-throttle.js';
import { userSubject } from '../login/login-throttle.js';
import type { LoginFlow } from '../login/login-flow.js';
import { hashToken, type SessionIssuer } from '../sessions/session-service.js';
import type { RelyingParty } from './relying-party.js';

/** How long a ceremony may take, begin to finish. */
export const PASSKEY_CHALLENGE_TTL_SECONDS = 300;
export const PASSKEY_NAME_MAX = 64;
/** More would only make the list and the excludeCredentials array long. */
export const MAX_PASSKEYS_PER_USER = 20;

/** How recent a sign-in must be to add a passkey without the password (as the pages' REAUTH_WINDOW_MS). */
export const PASSKEY_REAUTH_WINDOW_MS = 5 * 60_000;

/**
 * How a user proves it is them before adding a passkey (a stolen session alone must not plant the
 * thief's passkey): the password, or a sign-in of the last 5 minutes (the browser session's start,
 * or the API session's, by the access token's `sid`).
 */
export interface RegistrationProof {
  password?: string;
  signedInAt?: Date;
  sessionId?: string;
}

export interface PasskeyService {
  beginRegistration(user: User, proof: RegistrationProof, context: RequestContext): Promise<PublicKeyCredentialCreationOptionsJSON>;
  finishRegistration(user: User, name: string, response: RegistrationResponseJSON, context: RequestContext): Promise<Passkey>;
  /** With a login (email first), only that user's passkeys are offered; without, any discoverable one. */
  beginAuthentication(login?: string): Promise<PublicKeyCredentialRequestOptionsJSON>;
  finishAuthentication<T>(response: AuthenticationResponseJSON, context: RequestContext, issuer: SessionIssuer<T>): Promise<T>;
  list(userId: string): Promise<Passkey[]>;
  rename(user: User, id: string, name: string, context: RequestContext): Promise<Passkey>;
  /** By the user (never their last way in), or by an admin (`actor`) whatever is left. */
  remove(user: User, id: string, context: RequestContext, actor?: User): Promise<void>;
  /** Whether the pages should offer passkeys at all. */
  enabled(): boolean;
}

export const passkeyErrors = {
  challenge: (status: 400 | 401) =>
    new AppError(status, 'PASSKEY_CHALLENGE_INVALID', 'The passkey challenge is unknown, used, expired or for another ceremony: begin again'),
  invalid: (status: 400 | 401) => new AppError(status, 'PASSKEY_INVALID', 'The passkey could not be verified'),
  exists: () => new AppError(409, 'PASSKEY_EXISTS', 'This passkey is registered already'),
  tooMany: () => new AppError(409, 'PASSKEY_LIMIT', `At most ${MAX_PASSKEYS_PER_USER} passkeys per account: remove one first`),
  notFound: () => new AppError(404, 'PASSKEY_NOT_FOUND', 'You have no passkey with this id'),
  last: () =>
    new AppError(409, 'LAST_SIGN_IN_METHOD', 'This passkey is your only way to sign in: add another passkey or set a password first'),
  reauth: () =>
    new AppError(403, 'REAUTH_REQUIRED', 'Your sign-in is older than 5 minutes: send your password (or sign in again) to add a passkey'),
  wrongPassword: () => new AppError(403, 'INVALID_PASSWORD', 'The password is not correct'),
};

/** An account without a password (passkeys only) has an empty hash, which no password matches. */
export const hasPassword = (user: User) => user.passwordHash !== '';

/** The WebAuthn user handle of a user: their id's bytes (no personal data, as the spec asks). */
export const userHandleOf = (userId: string) => Buffer.from(userId, 'utf8').toString('base64url');

/** The challenge a response answers, from its clientDataJSON (null when unreadable). */
function challengeOf(clientDataJSON: unknown): string | null {
  if (typeof clientDataJSON !== 'string') return null;
  try {
    const data: unknown = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8'));
    const challenge = (data as { challenge?: unknown } | null)?.challenge;
    return typeof challenge === 'string' && challenge.length > 0 && challenge.length <= 256 ? challenge : null;
  } catch {
    return null;
  }
}

/**
 * The library, loaded at the first ceremony: with its ASN.1 and CBOR parsers it is 850 KB of the
 * bundled server, which every start would otherwise parse (scripts/bundle.mjs puts a dynamic
 * import in a chunk of its own). Passkeys are not on the start-up path.
 */
const loadLibrary = () => import('@simplewebauthn/server');
let library: ReturnType<typeof loadLibrary> | undefined;
const webauthn = () => (library ??= loadLibrary());

/** The library's refusals are plain Errors: their first words say which check failed, for the audit log only. */
const reasonOf = (error: unknown) => (error instanceof Error ? error.message.slice(0, 120) : 'unknown');

export function createPasskeyService(deps: {
  store: Store;
  audit: AuditLog;
  login: LoginFlow;
  throttle: LoginThrottle;
  rp: RelyingParty;
  verifyPassword(user: User, password: string, context: RequestContext): Promise<boolean>;
  findByLogin(login: string): Promise<User | null>;
  now?: () => Date;
}): PasskeyService {
  const { store, audit, login, throttle, rp } = deps;
  const now = deps.now ?? (() => new Date());

  /** The challenge's bytes (the library base64url-encodes them; a string it would encode as UTF-8 first). */
  async function newChallenge(purpose: 'passkey_registration' | 'passkey_authentication', userId: string | null): Promise<Uint8Array<ArrayBuffer>> {
    const challenge = randomBytes(32);
    const at = now();
    await store.oneTimeTokens.insert({
      // The clientDataJSON of the answer carries it base64url-encoded: the key it is found by.
      hash: hashToken(challenge.toString('base64url')),
      purpose,
      userId,
      createdAt: at,
      expiresAt: new Date(at.getTime() + PASSKEY_CHALLENGE_TTL_SECONDS * 1000),
      data: null,
    });
    return new Uint8Array(challenge);
  }

  /** Deletes the challenge the response answers and returns it: used once, whatever follows. */
  async function takeChallenge(clientDataJSON: unknown, purpose: 'passkey_registration' | 'passkey_authentication') {
    const challenge = challengeOf(clientDataJSON);
    if (challenge === null) return null;
    const token = await store.oneTimeTokens.consume(hashToken(challenge), purpose, now());
    return token === null ? null : { challenge, userId: token.userId };
  }

  async function findOwn(user: User, id: string): Promise<Passkey> {
    const passkey = await store.passkeys.findById(id);
    if (passkey === null || passkey.userId !== user.id) throw passkeyErrors.notFound();
    return passkey;
  }

  return {
    enabled: () => rp.enabled(),

    async beginRegistration(user, proof, context) {
      const { rpId, rpName } = rp.current();
      if (proof.password !== undefined) {
        if (!(await deps.verifyPassword(user, proof.password, context))) throw passkeyErrors.wrongPassword();
      } else {
        let signedInAt = proof.signedInAt;
        if (signedInAt === undefined && proof.sessionId !== undefined) {
          const sessions = await store.sessions.listActive(user.id, now());
          signedInAt = sessions.find((s) => s.id === proof.sessionId)?.createdAt;
        }
        if (signedInAt === undefined || now().getTime() - signedInAt.getTime() >= PASSKEY_REAUTH_WINDOW_MS) throw passkeyErrors.reauth();
      }
      const existing = await store.passkeys.listForUser(user.id);
      if (existing.length >= MAX_PASSKEYS_PER_USER) throw passkeyErrors.tooMany();
      const challenge = await newChallenge('passkey_registration', user.id);
      const { generateRegistrationOptions } = await webauthn();
      return generateRegistrationOptions({
        rpName,
        rpID: rpId,
        userName: user.email,
        userDisplayName: user.fullName ?? user.username,
        userID: Buffer.from(user.id, 'utf8'),
        challenge,
        timeout: PASSKEY_CHALLENGE_TTL_SECONDS * 1000,
        attestationType: 'none',
        // The same authenticator twice is refused by the browser itself.
        excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports as never })),
        authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
      });
    },

    async finishRegistration(user, name, response, context) {
      const { rpId, origins } = rp.current();
      const taken = await takeChallenge(response.response?.clientDataJSON, 'passkey_registration');
      // Another user's challenge is no challenge of this user's.
      if (taken === null || taken.userId !== user.id) throw passkeyErrors.challenge(400);
      const { verifyRegistrationResponse } = await webauthn();
      let verified;
      try {
        verified = await verifyRegistrationResponse({
          response,
          expectedChallenge: taken.challenge,
          expectedOrigin: origins,
          expectedRPID: rpId,
          requireUserVerification: true,
        });
      } catch (error) {
        await audit.record('passkey.rejected', { userId: user.id, context, detail: { ceremony: 'registration', reason: reasonOf(error) } });
        throw passkeyErrors.invalid(400);
      }
      if (!verified.verified) throw passkeyErrors.invalid(400);
      const info = verified.registrationInfo;
      const passkey: Passkey = {
        id: info.credential.id,
        userId: user.id,
        publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
        counter: info.credential.counter,
        transports: (info.credential.transports ?? response.response.transports ?? []).slice(0, 8),
        deviceType: info.credentialDeviceType,
        backedUp: info.credentialBackedUp,
        backupEligible: info.credentialDeviceType === 'multiDevice',
        aaguid: info.aaguid,
        name: name.trim().slice(0, PASSKEY_NAME_MAX) || 'Passkey',
        createdAt: now(),
        lastUsedAt: null,
      };
      try {
        await store.passkeys.insert(passkey);
      } catch (error) {
        if (error instanceof Conflict) throw passkeyErrors.exists();
        throw error;
      }
      await audit.record('passkey.registered', {
        userId: user.id,
        context,
        detail: { passkey: passkey.id, name: passkey.name, aaguid: passkey.aaguid, device_type: passkey.deviceType },
      });
      return passkey;
    },

    async beginAuthentication(loginName) {
      const { rpId } = rp.current();
      const user = loginName === undefined || loginName.trim() === '' ? null : await deps.findByLogin(loginName.trim());
      const passkeys = user === null ? [] : await store.passkeys.listForUser(user.id);
      // Bound to the user only when they have passkeys: else the sign-in stays username-less.
      const challenge = await newChallenge('passkey_authentication', passkeys.length > 0 && user !== null ? user.id : null);
      const { generateAuthenticationOptions } = await webauthn();
      return generateAuthenticationOptions({
        rpID: rpId,
        challenge,
        timeout: PASSKEY_CHALLENGE_TTL_SECONDS * 1000,
        userVerification: 'required',
        allowCredentials: passkeys.map((p) => ({ id: p.id, transports: p.transports as never })),
      });
    },

    async finishAuthentication(response, context, issuer) {
      const { rpId, origins } = rp.current();
      const taken = await takeChallenge(response.response?.clientDataJSON, 'passkey_authentication');
      if (taken === null) throw passkeyErrors.challenge(401);
      const passkey = typeof response.id === 'string' ? await store.passkeys.findById(response.id) : null;
      const refuse = async (reason: string, userId: string | null = passkey?.userId ?? null) => {
        await audit.record('login.failed', { userId, context, detail: { method: 'passkey', reason, passkey: passkey?.id } });
        return passkeyErrors.invalid(401);
      };
      if (passkey === null) throw await refuse('unknown_passkey', null);
      // Email first: only that user's passkeys answer the challenge.
      if (taken.userId !== null && taken.userId !== passkey.userId) throw await refuse('other_user', taken.userId);
      const handle = response.response.userHandle;
      if (handle !== undefined && handle !== userHandleOf(passkey.userId)) throw await refuse('user_handle_mismatch');
      const user = await store.findUserById(passkey.userId);
      if (user === null) throw await refuse('unknown_account', null);
      const subject = userSubject(user.id);
      // The account lock of password sign-ins holds here too (429 ACCOUNT_LOCKED).
      await throttle.claim(subject, context);

      const { verifyAuthenticationResponse } = await webauthn();
      let verified;
      try {
        verified = await verifyAuthenticationResponse({
          response,
          expectedChallenge: taken.challenge,
          expectedOrigin: origins,
          expectedRPID: rpId,
          // Counter 0 here: the library's own counter check would refuse before we can audit it;
          // the rule is applied below, once the signature is known to be good.
          credential: { id: passkey.id, publicKey: Buffer.from(passkey.publicKey, 'base64url'), counter: 0 },
          requireUserVerification: true,
        });
      } catch (error) {
        const message = reasonOf(error);
        throw await refuse(/user verification/i.test(message) ? 'user_not_verified' : `verification_failed: ${message}`);
      }
      if (!verified.verified) throw await refuse('verification_failed');
      const info = verified.authenticationInfo;
      if ((info.credentialDeviceType === 'multiDevice') !== passkey.backupEligible) {
        await audit.record('passkey.rejected', {
          userId: user.id,
          context,
          detail: { passkey: passkey.id, reason: 'backup_eligibility_changed', was: passkey.backupEligible },
        });
        throw await refuse('backup_eligibility_changed');
      }
      if (passkey.counter > 0 && info.newCounter <= passkey.counter) {
        await audit.record('passkey.counter_regression', {
          userId: user.id,
          context,
          detail: { passkey: passkey.id, stored: passkey.counter, received: info.newCounter },
        });
        throw await refuse('counter_regression');
      }
      const recorded = await store.passkeys.recordUse(passkey.id, { counter: info.newCounter, backedUp: info.credentialBackedUp, at: now() }, passkey.counter);
      // Another sign-in with this counter won the race: one of the two was a replay or a clone.
      if (!recorded) throw await refuse('concurrent_use');
      if (user.disabled) throw errors.accountDisabled();
      await throttle.succeeded(subject, context);
      await audit.record('passkey.used', { userId: user.id, context, detail: { passkey: passkey.id, name: passkey.name } });
      return login.complete(user, context, 'passkey', issuer);
    },

    list: (userId) => store.passkeys.listForUser(userId),

    async rename(user, id, name, context) {
      const passkey = await findOwn(user, id);
      const clean = name.trim().slice(0, PASSKEY_NAME_MAX);
      if (clean === '') throw new ValidationFailed([{ loc: ['body', 'name'], msg: 'Enter a name', type: 'string_too_short' }]);
      if (!(await store.passkeys.rename(user.id, id, clean))) throw passkeyErrors.notFound();
      await audit.record('passkey.renamed', { userId: user.id, context, detail: { passkey: id, name: clean } });
      return { ...passkey, name: clean };
    },

    async remove(user, id, context, actor) {
      const passkey = await findOwn(user, id);
      // An admin removes a lost or stolen device's passkey whatever is left: the owner can still
      // set a password through the reset mail. The owner never locks themselves out.
      const byAdmin = actor !== undefined && actor.id !== user.id;
      const result = await store.passkeys.delete(user.id, id, { keepOne: !byAdmin && !hasPassword(user) });
      if (result === 'not_found') throw passkeyErrors.notFound();
      if (result === 'last') throw passkeyErrors.last();
      await audit.record('passkey.removed', {
        userId: user.id,
        actorId: byAdmin ? actor.id : null,
        context,
        detail: { passkey: id, name: passkey.name },
      });
    },
  };
}
