#!/usr/bin/env node
// Runs the test files (*.test.ts) under the given folders (default: test/) with node:test and
// tsx, and says which database the HTTP suites use. `npm test` calls this.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['test'];
const files = roots
  .filter((root) => existsSync(root))
  .flatMap((root) =>
    statSync(root).isDirectory()
      ? readdirSync(root, { recursive: true }).map((f) => path.join(root, String(f)))
      : [root],
  )
  .filter((f) => f.endsWith('.test.ts'))
  .sort();

const postgres = process.env.TEST_HTTP_STORE === 'postgres' && process.env.TEST_POSTGRES_URL;
console.log(`HTTP suites run on: ${postgres ? 'PostgreSQL (TEST_HTTP_STORE=postgres)' : 'SQLite'}`);
if (!process.env.TEST_POSTGRES_URL) console.log('PostgreSQL: skipped (set TEST_POSTGRES_URL)');
if (!process.env.TEST_MONGODB_URL) console.log('MongoDB: skipped (set TEST_MONGODB_URL)');
if (!process.env.TEST_REDIS_URL) console.log('Redis: skipped (set TEST_REDIS_URL)');
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(chromium)) console.log(`Browser suite (test/browser): skipped (${chromium} not found; apt-get install chromium)`);

const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
