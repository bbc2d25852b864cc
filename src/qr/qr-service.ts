/**
 * Users' QR codes: generate (and store, as the old service did, so `qr_code` shows on the user),
 * read back, draw as an image in the form asked, and a general encoder. The stored PNG keeps the
 * old look: 10 px modules, a 5-module border.
 *
 * With a badge key, a code is a signed badge (badge.ts). Nothing but its issue time is stored:
 * Ed25519 signatures are deterministic, so GET re-derives the same bytes from the user, the issue
 * time and the key — and, should the key have been rotated or the role changed since, a badge
 * that states the current facts rather than one /qr/verify would refuse.
 */
import type { KeySet, SigningKey } from '../auth/tokens/keys.js';
import { errors } from '../errors.js';
import type { Store, User } from '../store/store.js';
import type { UserService } from '../users/user-service.js';
import { isUsableKid, signBadge } from './badge.js';
import { legacyPayload } from './payload.js';
import type { ImageOptions, QrImages } from '../qr-render/qr-images.js';
import type { RenderedImage } from '../qr-render/render-cache.js';

export const LEGACY_IMAGE: ImageOptions = { format: 'png', margin: 5, ecc: 'M' };

export interface QrCodeResult {
  user_id: string;
  qr_code_base64: string;
  data: string;
}

export interface QrService {
  generate(user: User): Promise<QrCodeResult>;
  get(actor: User, userId: string): Promise<QrCodeResult>;
  image(actor: User, userId: string, options: ImageOptions): Promise<RenderedImage>;
  encode(data: string, options: ImageOptions): Promise<RenderedImage>;
}

export interface QrServiceDeps {
  users: UserService;
  store: Pick<Store, 'updateUser'>;
  images: QrImages;
  /** Signs badges; null: the old plain payload (QR_SIGNED=false). */
  badgeKey: SigningKey | null;
  badgeTtlSeconds: number;
}

export function createQrService(deps: QrServiceDeps): QrService {
  const { users, store, images, badgeKey } = deps;

  async function generatedFor(actor: User, userId: string): Promise<User> {
    const user = await users.getVisible(actor, userId);
    if (user.qrCode === null) throw errors.qrNotGenerated();
    return user;
  }

  function badgeOf(user: User, issuedAt: number, key: SigningKey): string {
    const claims = { userId: user.id, email: user.email, role: user.role, kid: key.kid };
    return signBadge({ ...claims, issuedAt, expiresAt: issuedAt + deps.badgeTtlSeconds }, key.privateKey);
  }

  /**
   * Badges already signed, by everything a badge states: reading a badge back (GET /qr/{id},
   * its image, the badge page) signed it again each time, ~40 µs of Ed25519 for the same bytes.
   * A change of any stated fact makes a new key; bounded, emptied when full.
   */
  const signed = new Map<string, string>();
  const SIGNED_MAX = 10_000;

  /** The user's current code: the badge issued at qrIssuedAt, or the plain payload. */
  function payloadOf(user: User): string {
    if (badgeKey === null || user.qrIssuedAt === null) return legacyPayload(user);
    const issuedAt = Math.floor(user.qrIssuedAt.getTime() / 1000);
    const key = `${badgeKey.kid}|${issuedAt}|${user.id}|${user.role}|${user.email}`;
    let badge = signed.get(key);
    if (badge === undefined) {
      badge = badgeOf(user, issuedAt, badgeKey);
      if (signed.size >= SIGNED_MAX) signed.clear();
      signed.set(key, badge);
    }
    return badge;
  }

  const pngOf = (data: string) => (images.render(data, LEGACY_IMAGE, 'query').body as Buffer).toString('base64');

  return {
    async generate(user) {
      let data = legacyPayload(user);
      // A plain code supersedes any earlier badge too: qrIssuedAt null matches no badge.
      let qrIssuedAt: Date | null = null;
      if (badgeKey !== null) {
        // Whole seconds, as in the payload, so /qr/verify compares exactly. Strictly later than
        // the previous badge, so a new generate always supersedes it, even within one second.
        const previous = user.qrIssuedAt === null ? 0 : Math.floor(user.qrIssuedAt.getTime() / 1000);
        const issuedAt = Math.max(Math.floor(Date.now() / 1000), previous + 1);
        data = badgeOf(user, issuedAt, badgeKey);
        qrIssuedAt = new Date(issuedAt * 1000);
      }
      // A new payload every time, never in the cache: drawn on a worker (qr-images.ts).
      const png = ((await images.renderOffLoop(data, LEGACY_IMAGE, 'query', true)).body as Buffer).toString('base64');
      if ((await store.updateUser(user.id, { qrCode: png, qrIssuedAt })) === null) throw errors.userNotFound();
      return { user_id: user.id, qr_code_base64: png, data };
    },

    async get(actor, userId) {
      const user = await generatedFor(actor, userId);
      // Generated before badges (or imported from the old service): its stored PNG, as it was.
      if (user.qrIssuedAt === null) {
        return { user_id: user.id, qr_code_base64: user.qrCode as string, data: legacyPayload(user) };
      }
      const data = payloadOf(user);
      return { user_id: user.id, qr_code_base64: pngOf(data), data };
    },

    async image(actor, userId, options) {
      return images.renderOffLoop(payloadOf(await generatedFor(actor, userId)), options, 'query');
    },

    encode: (data, options) => images.renderOffLoop(data, options, 'body'),
  };
}

/** The key that signs badges: the token signing key, when badges are signed (config.qr.signed). */
export function badgeKeyOf(signed: boolean, keys: KeySet): SigningKey | null {
  if (!signed) return null;
  // config.ts refuses QR_SIGNED under HS256; a key set built some other way fails here, at start.
  if (keys.signing === null) throw new Error('QR_SIGNED needs an Ed25519 signing key (JWT_ALG=EdDSA)');
  if (!isUsableKid(keys.signing.kid)) {
    throw new Error(`The signing key's kid ${JSON.stringify(keys.signing.kid)} cannot go into a QR badge (no "|" or spaces)`);
  }
  return keys.signing;
}
