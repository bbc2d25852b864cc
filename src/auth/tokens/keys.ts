/**
 * Token keys. EdDSA (Ed25519) by default: other services verify our tokens with the public keys
 * at /.well-known/jwks.json, no shared secret. Keys come as a list of private JWKs: the first
 * signs, all verify, so a new key can be added in front and the old one dropped once its tokens
 * have expired: rotation logs nobody out. HS256 with JWT_SECRET stays for the old service's
 * set-ups (verified whenever the secret is set; signing with it when JWT_ALG=HS256).
 *
 * Outside production, with nothing configured, one Ed25519 key is generated and kept in
 * DATA_DIR (mode 0600), like the old generated secret; production refuses to start (config.ts).
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hkdfSync,
  type JsonWebKey as NodeJsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Config } from '../../config.js';
import { GENERATED_SECRET_FILE, resolveSigningSecret, type SecretLogger } from './signing-secret.js';

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public half as a JWK, as published in the JWKS. */
  publicJwk: JWK;
}

export interface KeySet {
  alg: 'EdDSA' | 'HS256';
  /** The EdDSA key that signs (the first configured one); null when signing HS256. */
  signing: SigningKey | null;
  /** Every EdDSA key that verifies, by kid. */
  verifying: ReadonlyMap<string, SigningKey>;
  /** The HS256 secret, verified whenever it is configured. */
  hmacSecret: Buffer | null;
}

export const GENERATED_KEYS_FILE = 'jwt-signing-keys.json';

/** A new Ed25519 private JWK with its RFC 7638 thumbprint as kid. */
export async function generateSigningJwk(): Promise<JWK> {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x } as JWK);
  return { ...jwk, kid, alg: 'EdDSA', use: 'sig' };
}

/** Where configured keys come from, for messages: the variable, and the file when one was read. */
export const CONFIGURED_KEYS_SOURCE = 'JWT_SIGNING_KEYS';

function keysSource(config: Config): string {
  return config.jwt.signingKeysFile === null ? CONFIGURED_KEYS_SOURCE : `JWT_SIGNING_KEYS_FILE ${config.jwt.signingKeysFile}`;
}

/**
 * Parses a JSON array of private Ed25519 JWKs, or a JWKS object `{"keys": [...]}`. Errors name
 * `source` and never quote the text: it holds private keys, and start-up errors reach logs.
 */
export function parseSigningKeys(json: string, source = CONFIGURED_KEYS_SOURCE): SigningKey[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    // `npm run keys -- generate > file` without --silent: npm's "> pkg@1.0.0 keys" lines go to
    // stdout before the key. Say so, since the file looks right at a glance.
    const npmBanner = /^\s*> \S+@\S+ keys\b/.test(json)
      ? '. It starts with the lines npm prints before a script: write it again with `npm run keys -- generate --out FILE` or `npm run --silent keys -- generate > FILE`'
      : '';
    throw new Error(`${source}: not valid JSON (expected an array of private Ed25519 JWKs: npm run keys -- generate)${npmBanner}`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(list) || list.length === 0) {
    throw new Error(`${source}: expected a non-empty array of private Ed25519 JWKs`);
  }
  const keys = list.map((raw, i) => {
    const jwk = raw as JWK;
    if (jwk?.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string' || typeof jwk.kid !== 'string') {
      throw new Error(`${source}: key ${i} is not an Ed25519 private JWK with "kid" (npm run keys -- generate)`);
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: jwk as NodeJsonWebKey, format: 'jwk' });
    } catch {
      throw new Error(`${source}: key ${i} (kid ${jwk.kid}) is not a valid Ed25519 private key`);
    }
    const publicKey = createPublicKey(privateKey);
    const { kty, crv, x } = publicKey.export({ format: 'jwk' }) as JWK;
    return { kid: jwk.kid, privateKey, publicKey, publicJwk: { kty, crv, x, kid: jwk.kid, alg: 'EdDSA', use: 'sig' } };
  });
  if (new Set(keys.map((k) => k.kid)).size !== keys.length) throw new Error(`${source}: duplicate kid`);
  return keys;
}

function generatedKeysJson(config: Config, log: SecretLogger): string {
  const file = path.join(config.dataDir, GENERATED_KEYS_FILE);
  try {
    const json = readFileSync(file, 'utf8');
    if ((statSync(file).mode & 0o077) !== 0) {
      chmodSync(file, 0o600);
      log.warn(`${file} was readable by others; its mode is now 0600`);
    }
    return json;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(config.dataDir, { recursive: true });
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  // A synchronous kid (jose's thumbprint is async): the base64url x is unique per key.
  const json = `${JSON.stringify([{ ...jwk, kid: `gen-${(jwk.x as string).slice(0, 16)}`, alg: 'EdDSA', use: 'sig' }])}\n`;
  try {
    writeFileSync(file, json, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    // Another process wrote it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8');
    throw error;
  }
  log.info(`No JWT_SIGNING_KEYS set: generated an Ed25519 signing key in ${file} (mode 0600). Configure keys in production.`);
  return json;
}

export function resolveKeySet(config: Config, log: SecretLogger): KeySet {
  const { jwt } = config;
  const hmacSecret = jwt.secret === null ? null : Buffer.from(jwt.secret, 'utf8');
  const alg = jwt.alg;
  if (alg === 'HS256') {
    return { alg, signing: null, verifying: new Map(), hmacSecret: hmacSecret ?? resolveSigningSecret(config, log) };
  }
  const keys =
    jwt.signingKeys === null
      ? parseSigningKeys(generatedKeysJson(config, log), path.join(config.dataDir, GENERATED_KEYS_FILE))
      : parseSigningKeys(jwt.signingKeys, keysSource(config));
  return { alg, signing: keys[0] as SigningKey, verifying: new Map(keys.map((k) => [k.kid, k])), hmacSecret };
}

/** Where the key that signs tokens lives, for the start-up log (a place, never the key). */
export function describeKeyLocation(config: Config): string {
  const { jwt, dataDir } = config;
  if (jwt.alg === 'HS256') {
    return jwt.secret === null
      ? `HS256 secret in ${path.join(dataDir, GENERATED_SECRET_FILE)} (generated here; set JWT_SECRET in production)`
      : 'HS256 secret from JWT_SECRET';
  }
  return jwt.signingKeys === null
    ? `Ed25519 key in ${path.join(dataDir, GENERATED_KEYS_FILE)} (generated here; in production set JWT_SIGNING_KEYS_FILE: npm run keys -- generate --out FILE)`
    : `Ed25519 keys from ${keysSource(config)}`;
}

/**
 * A secret for one purpose (`"csrf"`, say), derived (HKDF-SHA256) from the key that signs tokens:
 * every instance configured with the same keys derives the same one, and nothing new has to be
 * configured. It changes when the signing key rotates (what it protects is short-lived).
 */
export function deriveSecret(keys: KeySet, purpose: string): Buffer {
  const material =
    keys.signing !== null
      ? Buffer.from(keys.signing.privateKey.export({ format: 'jwk' }).d as string, 'base64url')
      : (keys.hmacSecret as Buffer);
  return Buffer.from(hkdfSync('sha256', material, 'auth-qr-service', purpose, 32));
}

/** The public keys for /.well-known/jwks.json (never the HS256 secret). */
export function publicJwks(keys: KeySet): { keys: JWK[] } {
  return { keys: [...keys.verifying.values()].map((k) => k.publicJwk) };
}
