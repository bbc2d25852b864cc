/**
 * Every variable the service reads is documented: in .env.example (with its default), in the
 * README (the essential ones explained, the others named with a link) and in the configuration
 * reference of docs/operations.md. A new setting without its documentation fails here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { REPO_ROOT } from '../helpers/server-process.js';
import { proseLines, readPage } from './markdown.js';

/** The names loadConfig looks up, recorded by an environment that watches every read. */
function variablesReadAtRunTime(): Set<string> {
  const read = new Set<string>();
  // One environment per branch of config.ts that reads more (PostgreSQL pool, MongoDB's DB_NAME).
  const branches: Record<string, string>[] = [{}, { DATABASE_URL: 'postgres://db.example/app' }, { MONGO_URI: 'mongodb://db.example' }];
  for (const values of branches) {
    const env = new Proxy(values, {
      get(target, name) {
        if (typeof name === 'string') read.add(name);
        return target[name as string];
      },
    });
    try {
      loadConfig(env);
    } catch {
      // a refused configuration still read its variables
    }
  }
  return read;
}

/** The names config.ts reads, from its source: get('X'), int('X', …), bool, oneOf, env.X, env['X']. */
function variablesInSource(): Set<string> {
  const source = readFileSync(path.join(REPO_ROOT, 'src/config.ts'), 'utf8');
  const patterns = [/\b(?:get|int|bool|oneOf)\(\s*'([A-Z][A-Z0-9_]*)'/g, /\benv\.([A-Z][A-Z0-9_]*)\b/g, /\benv\[\s*'([A-Z][A-Z0-9_]*)'\s*\]/g];
  return new Set(patterns.flatMap((re) => [...source.matchAll(re)].map((m) => m[1] as string)));
}

describe('the settings are documented', () => {
  const runTime = variablesReadAtRunTime();
  const variables = [...variablesInSource()].sort();

  it('finds in the source of src/config.ts every variable it reads', () => {
    assert.ok(variables.length > 40, `found ${variables.length}`);
    assert.deepEqual([...runTime].filter((name) => !variables.includes(name)), []);
  });

  it('lists each in .env.example, as a line NAME= (commented out or not)', () => {
    const example = readFileSync(path.join(REPO_ROOT, '.env.example'), 'utf8');
    assert.deepEqual(variables.filter((name) => !new RegExp(`^#? ?${name}=`, 'm').test(example)), []);
  });

  it('names each in README.md', () => {
    const readme = proseLines(readPage('README.md')).map((l) => l.text).join('\n');
    assert.deepEqual(variables.filter((name) => !readme.includes(`\`${name}\``)), []);
  });

  it('explains each in a table row of the configuration reference (docs/operations.md)', () => {
    const rows = proseLines(readPage('docs/operations.md')).filter((l) => l.text.startsWith('|'));
    assert.deepEqual(variables.filter((name) => !rows.some((row) => row.text.split('|')[1]?.includes(`\`${name}\``))), []);
  });
});
