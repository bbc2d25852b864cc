/**
 * `npm run keys -- generate`: a new private Ed25519 JWK (with its RFC 7638 thumbprint as `kid`)
 * as a one-element JSON array, ready for JWT_SIGNING_KEYS or JWT_SIGNING_KEYS_FILE. To rotate,
 * put the new key in front of the current list: the first key signs, all of them verify.
 *
 * `npm run keys -- generate --rsa`: a private RSA (2048-bit) JWK instead, for OIDC_RSA_KEYS_FILE: the
 * OpenID Connect provider signs ID tokens RS256 with it only for apps that verify nothing else (Moodle).
 *
 * `--out FILE` writes the file itself, mode 0600 and never over an existing file; without it the
 * key goes to stdout and nothing else does (notes go to stderr).
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { generateSigningJwk } from '../auth/tokens/keys.js';

/** A new private RSA JWK (2048 bits) with its RFC 7638 thumbprint as kid, for RS256 ID tokens. */
async function generateRsaJwk(): Promise<JWK> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint({ kty: 'RSA', e: jwk.e, n: jwk.n } as JWK);
  return { ...jwk, kid, alg: 'RS256', use: 'sig' };
}

const USAGE = `Usage:
  npm run keys -- generate --out <file>     writes a new private Ed25519 key to <file> (mode 0600;
                                            an existing file is never overwritten)
  npm run --silent keys -- generate         prints it on stdout (--silent: without it npm prints
                                            its own "> auth-qr-service@… keys" lines there first)
  npm run keys -- generate --rsa --out <file>
                                            an RSA key instead, for OIDC_RSA_KEYS_FILE (RS256 ID
                                            tokens, only for apps that verify nothing else: Moodle)
Then JWT_SIGNING_KEYS_FILE=<file> (or JWT_SIGNING_KEYS=<the printed JSON>). To rotate keys, put the
new key first in the list and keep the old one until the tokens it signed have expired.
`;

function usageError(problem: string): number {
  process.stderr.write(`${problem}\n\n${USAGE}`);
  return 2;
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { out: { type: 'string' }, rsa: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    return usageError((error as Error).message);
  }
  const { positionals, values } = parsed;
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals[0] !== 'generate' || positionals.length > 1) {
    return usageError(positionals.length === 0 ? 'Missing command: generate' : `Unknown command: ${positionals.join(' ')}`);
  }
  const rsa = values.rsa === true;
  const jwk = rsa ? await generateRsaJwk() : await generateSigningJwk();
  const variable = rsa ? 'OIDC_RSA_KEYS_FILE' : 'JWT_SIGNING_KEYS_FILE';
  const json = `${JSON.stringify([jwk])}\n`;
  const note = 'Keep it secret (it holds the private key). To rotate, put it first in the current list.';
  if (values.out === undefined) {
    process.stdout.write(json);
    process.stderr.write(`kid ${jwk.kid}. ${note}\n`);
    return 0;
  }
  try {
    // 'wx': overwriting the key in use would log everybody out and lose it.
    writeFileSync(values.out, json, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'EEXIST' ? 'it exists already (not overwritten)' : (error as Error).message;
    process.stderr.write(`Cannot write ${values.out}: ${reason}\n`);
    return 1;
  }
  process.stderr.write(`Wrote key ${jwk.kid} to ${values.out} (mode 0600). Set ${variable}=${values.out}. ${note}\n`);
  return 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code));
