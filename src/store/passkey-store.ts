/**
 * The passkeys (WebAuthn credentials) part of the Store port: one row per credential, owned by a
 * user and gone with them. Kept in a file of its own so the other capabilities' store changes do
 * not collide with it; store.ts only names it. Rules (who may delete, counters, backup flags) live
 * in auth/passkeys; a store only persists, atomically where a rule needs it to.
 */

export type PasskeyDeviceType = 'singleDevice' | 'multiDevice';

/** A registered credential, as WebAuthn Level 3 recommends keeping it (§ 6.4 / "credential record"). */
export interface Passkey {
  /** The credential id, base64url (as browsers send it): unique over every user. */
  id: string;
  userId: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  /** The signature counter last seen; 0 for authenticators that do not count (synced passkeys). */
  counter: number;
  /** How the browser may reach the authenticator again ('internal', 'hybrid', 'usb', …). */
  transports: string[];
  /** 'multiDevice' when the credential may be synced (backup eligible), else 'singleDevice'. */
  deviceType: PasskeyDeviceType;
  backedUp: boolean;
  /** Fixed for the credential's life: a change is refused (auth/passkeys). */
  backupEligible: boolean;
  /** The authenticator model's AAGUID (all zeros when it keeps it to itself). */
  aaguid: string;
  /** The name the user gave it ("Work laptop"). */
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export type PasskeyDeleteResult = 'deleted' | 'not_found' | 'last';

export interface PasskeyStore {
  /** Conflict when a credential with this id exists (whoever owns it). */
  insert(passkey: Passkey): Promise<void>;
  findById(id: string): Promise<Passkey | null>;
  /** Oldest first. */
  listForUser(userId: string): Promise<Passkey[]>;
  /**
   * Records a sign-in: the new counter, backed-up flag and time, only if the stored counter is
   * still `expectedCounter` (compare-and-set): of two concurrent uses of one counting
   * authenticator with the same counter, one is refused. False when the passkey is gone or changed.
   */
  recordUse(id: string, use: { counter: number; backedUp: boolean; at: Date }, expectedCounter: number): Promise<boolean>;
  /** False when the user has no passkey with this id. */
  rename(userId: string, id: string, name: string): Promise<boolean>;
  /**
   * Deletes the user's passkey. With `keepOne`, atomically refuses ('last') when it is the user's
   * only one: of two concurrent deletions of a passwordless user's last two passkeys, one wins.
   */
  delete(userId: string, id: string, options?: { keepOne?: boolean }): Promise<PasskeyDeleteResult>;
}
