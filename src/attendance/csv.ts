/**
 * CSV both ways. Writing: RFC 4180 (CRLF, fields quoted when needed, quotes doubled) with a UTF-8
 * byte-order mark, which is what makes Excel read non-Latin names right; a cell that starts like a
 * formula (= + - @, tab, CR) is prefixed with an apostrophe, so a student named "=HYPERLINK(…)"
 * cannot run in the teacher's spreadsheet (OWASP "CSV injection"). Reading: the rows of a roster
 * upload, quoted fields included.
 */

const BOM = '\uFEFF';
const NEEDS_QUOTES = /[",\r\n]/;
const FORMULA_START = /^[=+\-@\t\r]/;

function field(value: string): string {
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCsv(header: string[], rows: string[][]): string {
  return BOM + [header, ...rows].map((row) => row.map(field).join(',')).join('\r\n') + '\r\n';
}

/** Rows of fields; throws with the line number on an unterminated quote. */
export function parseCsv(text: string): string[][] {
  const input = text.startsWith(BOM) ? text.slice(1) : text;
  const rows: string[][] = [];
  let row: string[] = [];
  let value = '';
  let quoted = false;
  let line = 1;
  let quoteLine = 0;
  for (let i = 0; i < input.length; i += 1) {
    const c = input[i] as string;
    if (quoted) {
      if (c === '"') {
        if (input[i + 1] === '"') {
          value += '"';
          i += 1;
        } else quoted = false;
      } else {
        if (c === '\n') line += 1;
        value += c;
      }
      continue;
    }
    if (c === '"' && value === '') {
      quoted = true;
      quoteLine = line;
    } else if (c === ',' || c === ';') {
      row.push(value);
      value = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && input[i + 1] === '\n') i += 1;
      row.push(value);
      rows.push(row);
      row = [];
      value = '';
      line += 1;
    } else value += c;
  }
  if (quoted) throw new Error(`line ${quoteLine}: a quoted field is never closed`);
  if (value !== '' || row.length > 0) {
    row.push(value);
    rows.push(row);
  }
  return rows;
}
