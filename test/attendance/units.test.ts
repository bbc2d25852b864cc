/** The small pure parts of attendance: the rotating code's window, CSV written and read, the limiter. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCsv, toCsv } from '../../src/attendance/csv.js';
import { createLimiter } from '../../src/attendance/limits.js';
import { checkCode, codeFor, currentCode, stepAt } from '../../src/attendance/rotating-code.js';

const SECRET = 'ab'.repeat(32);

describe('rotating codes', () => {
  it('accepts a code in its own step and the next, calls older ones expired, and anything else invalid', () => {
    const period = 10;
    const t0 = 1_900_000_000_000;
    const code = currentCode(SECRET, t0, period).code;
    assert.equal(checkCode(SECRET, code, t0, period), 'valid');
    assert.equal(checkCode(SECRET, code, t0 + 10_000, period), 'valid');
    assert.equal(checkCode(SECRET, code, t0 + 20_000, period), 'expired');
    assert.equal(checkCode(SECRET, code, t0 - 10_000, period), 'invalid', 'not before it appears');
    assert.equal(checkCode('cd'.repeat(32), code, t0, period), 'invalid', "another session's secret");
    assert.equal(checkCode(SECRET, 'short', t0, period), 'invalid');
  });

  it('is the same for every caller at one moment, and changes at the step boundary', () => {
    const at = stepAt(1_900_000_004_999, 5) * 5000;
    assert.equal(currentCode(SECRET, at, 5).code, currentCode(SECRET, at + 4_999, 5).code);
    assert.notEqual(currentCode(SECRET, at, 5).code, currentCode(SECRET, at + 5_000, 5).code);
    assert.equal(currentCode(SECRET, at, 5).changesAt.getTime(), at + 5000);
    assert.match(codeFor(SECRET, 1), /^[A-Za-z0-9_-]{12}$/);
  });
});

describe('CSV', () => {
  it('writes RFC 4180 with a byte-order mark and CRLF, quoting where needed and defusing formulas', () => {
    const text = toCsv(['a', 'b'], [['x,y', 'say "hi"'], ['=1+1', 'line\nbreak'], ['-5', '@home']]);
    assert.equal(text, '\uFEFFa,b\r\n"x,y","say ""hi"""\r\n\'=1+1,"line\nbreak"\r\n\'-5,\'@home\r\n');
  });

  it('reads quoted fields, commas or semicolons, CRLF or LF, and a byte-order mark', () => {
    assert.deepEqual(parseCsv('\uFEFFemail;name\r\n"a@x.org","Doe, ""J"""\nb@x.org,B'), [
      ['email', 'name'],
      ['a@x.org', 'Doe, "J"'],
      ['b@x.org', 'B'],
    ]);
    assert.throws(() => parseCsv('a\n"open'), /line 2/);
  });
});

describe('limiter', () => {
  it('takes a burst up to its capacity, then refills at its rate', () => {
    const limiter = createLimiter({ capacity: 3, refillPerSecond: 1 });
    assert.deepEqual([0, 0, 0].map(() => limiter.take('k', 0)), [null, null, null]);
    assert.equal(limiter.take('k', 0), 1);
    assert.equal(limiter.take('other', 0), null, 'keys are apart');
    assert.equal(limiter.take('k', 1000), null);
  });
});
