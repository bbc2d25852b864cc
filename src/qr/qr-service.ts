/**
 * Users' QR codes: generate (and store, as the old service did, so `qr_code` shows on the user),
 * read back, draw as an image in the form asked, and a general encoder. The stored PNG keeps the
 * old look: 10 px modules, a 5-module border.
 */
import { errors } from '../errors.js';
import type { User } from '../store/store.js';
import type { UserService } from '../users/user-service.js';
import { legacyPayload } from './payload.js';
import type { ImageOptions, QrImages } from './qr-images.js';
import type { RenderedImage } from './render-cache.js';

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
  encode(data: string, options: ImageOptions): RenderedImage;
}

export function createQrService(users: UserService, images: QrImages): QrService {
  async function generatedFor(actor: User, userId: string): Promise<User> {
    const user = await users.getVisible(actor, userId);
    if (user.qrCode === null) throw errors.qrNotGenerated();
    return user;
  }

  return {
    async generate(user) {
      const data = legacyPayload(user);
      const png = (images.render(data, LEGACY_IMAGE, 'query').body as Buffer).toString('base64');
      await users.setQrCode(user.id, png);
      return { user_id: user.id, qr_code_base64: png, data };
    },

    async get(actor, userId) {
      const user = await generatedFor(actor, userId);
      return { user_id: user.id, qr_code_base64: user.qrCode as string, data: legacyPayload(user) };
    },

    async image(actor, userId, options) {
      return images.render(legacyPayload(await generatedFor(actor, userId)), options, 'query');
    },

    encode: (data, options) => images.render(data, options, 'body'),
  };
}
