/**
 * The README and docs/ link to each other and into the repository: every relative link must reach
 * a file of the repository, and every #anchor a heading of its page. A page that moves or a
 * heading that is renamed breaks this test, not the reader.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/server-process.js';
import { anchors, documentationPages, links, readPage, slug } from './markdown.js';

describe('links in README.md and docs/*.md', () => {
  it('makes anchors the way GitHub does', () => {
    assert.equal(slug('Sign in by QR (cross-device)'), 'sign-in-by-qr-cross-device');
    assert.equal(slug('Administration, the audit log and limits'), 'administration-the-audit-log-and-limits');
    assert.equal(slug('`JWT_SECRET` and HS256'), 'jwt_secret-and-hs256');
    assert.equal(slug('Try it: a walkthrough with curl'), 'try-it-a-walkthrough-with-curl');
    assert.deepEqual([...anchors('# A\n## A\n```\n# not a heading\n```\n')], ['a', 'a-1']);
  });

  for (const page of documentationPages()) {
    it(`${page}: every relative link and #anchor resolves`, () => {
      const broken: string[] = [];
      for (const { line, target } of links(readPage(page))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: …
        const [file = '', anchor] = target.split('#', 2);
        const resolved = file === '' ? path.join(REPO_ROOT, page) : path.resolve(REPO_ROOT, path.dirname(page), file);
        const where = `${page}:${line} → ${target}`;
        if (path.relative(REPO_ROOT, resolved).startsWith('..')) {
          broken.push(`${where}: outside the repository (readers of a clone do not have it)`);
        } else if (!existsSync(resolved)) {
          broken.push(`${where}: no such file`);
        } else if (anchor !== undefined && resolved.endsWith('.md')) {
          if (!anchors(readPage(path.relative(REPO_ROOT, resolved))).has(decodeURIComponent(anchor))) {
            broken.push(`${where}: no such heading`);
          }
        }
      }
      assert.deepEqual(broken, []);
    });
  }
});
