/**
 * Users' QR codes: generate (and store, as the old service did, so `qr_code` shows on the user)
 * and read back. The PNG keeps the old look: 10 px modules, a 5-module border.
 */
import { errors } from '../errors.js';
import type { User } from '../store/store.js';
import type { UserService } from '../users/user-service.js';
import { legacyPayload } from './payload.js';
import { encodeMatrix, renderPng } from './render-png.js';

export const LEGACY_QR_STYLE = { scale: 10, margin: 5 } as const;

export interface QrCodeResult {
  user_id: string;
  qr_code_base64: string;
  data: string;
}

export interface QrService {
  generate(user: User): Promise<QrCodeResult>;
  get(actor: User, userId: string): Promise<QrCodeResult>;
}

export function createQrService(users: UserService): QrService {
  return {
    async generate(user) {
      const data = legacyPayload(user);
      const png = renderPng(encodeMatrix(data), LEGACY_QR_STYLE).toString('base64');
      await users.setQrCode(user.id, png);
      return { user_id: user.id, qr_code_base64: png, data };
    },

    async get(actor, userId) {
      const user = await users.getVisible(actor, userId);
      if (user.qrCode === null) throw errors.qrNotGenerated();
      return { user_id: user.id, qr_code_base64: user.qrCode, data: legacyPayload(user) };
    },
  };
}
