/** The text a user's QR code carries, in the old service's format (its scanners read it). */
import type { User } from '../store/store.js';

export function legacyPayload(user: Pick<User, 'id' | 'email' | 'role'>): string {
  return `USER:${user.id}|EMAIL:${user.email}|ROLE:${user.role}`;
}
