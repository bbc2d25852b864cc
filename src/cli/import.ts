/**
 * `npm run import -- <file>`: loads a mongoexport dump of the old service's users into the
 * configured store (the same configuration the service reads). Safe to re-run: users already
 * there are skipped, so an interrupted import is finished by running it again.
 *
 * Exit status: 0 all records in or already there; 1 some records failed, or the file or the
 * database could not be used; 2 usage or configuration error.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { ConfigError, loadConfig } from '../config.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import { type ImportProgress, type ImportSummary, importLegacyUsers } from '../users/legacy-import.js';

const USAGE = `Usage: npm run import -- <file>

Imports users exported from the old service's MongoDB, keeping their ids, password hashes,
creation times and QR codes:
  mongoexport --uri "$MONGO_URI" --db assignmentdb --collection users --out users.jsonl
JSON lines (the default) and --jsonArray dumps are both read.

The users go into the configured store: DATABASE_URL (sqlite:, postgres://, mongodb://,
mongodb+srv://), or MONGO_URI + DB_NAME, or the SQLite file in DATA_DIR. Records already
imported are skipped, so running it again is safe; bad records are listed by line and skipped.
`;

/** Enough to find the pattern in a bad dump without flooding the terminal. */
const MAX_LISTED_ERRORS = 1000;

async function main(args: string[]): Promise<number> {
  const files = args.filter((a) => a !== '--');
  if (files.length === 1 && (files[0] === '-h' || files[0] === '--help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const file = files[0];
  if (files.length !== 1 || file === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }

  try {
    await access(file, constants.R_OK);
    if (!(await stat(file)).isFile()) throw new Error('not a regular file');
  } catch (error) {
    process.stderr.write(`Cannot read ${file}: ${(error as Error).message}\n`);
    return 1;
  }

  let store: Store;
  try {
    store = await openStore(loadConfig().database);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    process.stderr.write(`Cannot open the database: ${explain(error)}\n`);
    return 1;
  }

  const bar = process.stderr.isTTY ? progressBar() : undefined;
  let summary: ImportSummary;
  try {
    summary = await importLegacyUsers(store, file, { onProgress: bar?.update, progressEvery: 250 });
  } catch (error) {
    bar?.clear();
    process.stderr.write(
      `Import stopped: ${explain(error)}\nUsers imported so far stay; run the same command again to continue.\n`,
    );
    return 1;
  } finally {
    await store.close().catch(() => undefined);
  }
  bar?.clear();

  for (const issue of summary.errors.slice(0, MAX_LISTED_ERRORS)) {
    process.stderr.write(`line ${issue.line}: ${issue.reason}\n`);
  }
  if (summary.errors.length > MAX_LISTED_ERRORS) {
    process.stderr.write(`... and ${summary.errors.length - MAX_LISTED_ERRORS} more\n`);
  }
  process.stdout.write(
    `Imported: ${summary.imported}\nSkipped (already there): ${summary.skipped}\nFailed: ${summary.failed}\n`,
  );
  return summary.failed > 0 ? 1 : 0;
}

/** The message, with the driver's own words when ours wrap them ("database unavailable: ECONNREFUSED"). */
function explain(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message;
}

/** A one-line bar on stderr, redrawn at most every 100 ms; only used when stderr is a terminal. */
function progressBar(): { update: (p: ImportProgress) => void; clear: () => void } {
  const width = 30;
  let last = 0;
  let drawn = false;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < 100 && p.bytesRead < p.totalBytes) return;
      last = now;
      const ratio = p.totalBytes === 0 ? 1 : Math.min(1, p.bytesRead / p.totalBytes);
      const filled = Math.round(ratio * width);
      process.stderr.write(
        `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}% ` +
          `${p.records} records: ${p.imported} imported, ${p.skipped} skipped, ${p.failed} failed`,
      );
      drawn = true;
    },
    clear() {
      if (drawn) process.stderr.write('\r\x1b[2K');
      drawn = false;
    },
  };
}

process.exitCode = await main(process.argv.slice(2));
