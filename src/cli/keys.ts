/**
 * `npm run keys -- generate`: prints a new private Ed25519 JWK (with its RFC 7638 thumbprint as
 * `kid`) as a one-element JSON array, ready for JWT_SIGNING_KEYS. To rotate, put the new key in
 * front of the current list: the first key signs, all of them verify.
 */
import { generateSigningJwk } from '../auth/keys.js';

async function main(argv: string[]): Promise<number> {
  if (argv[0] !== 'generate') {
    process.stderr.write('Usage: npm run keys -- generate   (prints a JWT_SIGNING_KEYS value on stdout)\n');
    return 2;
  }
  const jwk = await generateSigningJwk();
  process.stdout.write(`${JSON.stringify([jwk])}\n`);
  process.stderr.write(
    `kid ${jwk.kid}. Keep this secret (it holds the private key). To rotate, prepend it to the current list.\n`,
  );
  return 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code));
