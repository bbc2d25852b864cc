/**
 * The service's public base URL, for links that leave it (mails, the QR of a sign-in request,
 * badges on the web pages). PUBLIC_URL when set. Without it, in development and tests, links
 * point at http://localhost:<the port the server listens on>, so a newcomer can click them from
 * the outbox; in production there is none (mails then carry the token alone). Never built from a
 * request's Host header: whoever sends the request chooses that header, and a reset link built
 * from it would send the victim's token to the attacker's host.
 */
import type { Config } from '../config.js';

export interface PublicUrl {
  /** The base URL (no trailing slash), or null when links cannot be made. */
  base(): string | null;
  /** The port the server ended up listening on (PORT=0 picks one): development links follow it. */
  listening(port: number): void;
}

export function createPublicUrl(config: Pick<Config, 'nodeEnv' | 'port'> & { mail: Pick<Config['mail'], 'publicUrl'> }): PublicUrl {
  let port = config.port;
  return {
    base() {
      if (config.mail.publicUrl !== null) return config.mail.publicUrl;
      return config.nodeEnv === 'production' ? null : `http://localhost:${port}`;
    },
    listening(actual) {
      port = actual;
    },
  };
}
