/**
 * Whether any account still has a password hash of the old service (bcrypt), for the timing
 * defence of passwords.ts. Asked of the store at most once a minute, in the background: a login
 * never waits for it (the last answer is used meanwhile). It turns false as the last imported
 * user signs in (the re-hash), and true again only after an import: a minute's delay either way
 * costs at most a minute of padded, or of unpadded, failed logins.
 */
import type { Store } from '../../store/store.js';

const REFRESH_MS = 60_000;

export function createLegacyHashWatch(store: Pick<Store, 'hasLegacyPasswordHashes'>, now: () => number = Date.now) {
  // Until the first answer comes, assume they remain: the safe side.
  let remain = true;
  let checkedAt = Number.NEGATIVE_INFINITY;
  let checking: Promise<void> | null = null;

  const refresh = () => {
    checking ??= store
      .hasLegacyPasswordHashes()
      .then((value) => {
        remain = value;
        checkedAt = now();
      })
      .catch(() => undefined)
      .finally(() => {
        checking = null;
      });
    return checking;
  };

  return {
    /** The answer to "do legacy hashes remain?": the first call waits for the store, later ones never do. */
    async remain(): Promise<boolean> {
      if (checkedAt === Number.NEGATIVE_INFINITY) await refresh();
      else if (now() - checkedAt > REFRESH_MS) void refresh();
      return remain;
    },
  };
}
