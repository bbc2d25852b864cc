/**
 * The report: one plain table on stdout, the same rows in bench/results/latest.json and a
 * Markdown table in bench/results/latest.md. A failed target is printed as FAIL, never hidden.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Row {
  scenario: string;
  rps?: number;
  p50?: number;
  p99?: number;
  /** req/s divided by the baseline's req/s measured just before. */
  vsBaseline?: number;
  target?: string;
  /** The measured value the target is judged on, in the target's own terms. */
  measured?: string;
  /** undefined: a reference row, no target. */
  pass?: boolean;
  note?: string;
}

export interface Report {
  startedAt: string;
  command: string;
  machine: { cores: number; node: string; cpu: string };
  users: number;
  notes: string[];
  rows: Row[];
}

const COLUMNS = ['scenario', 'req/s', 'p50 ms', 'p99 ms', '× baseline', 'target', 'measured', 'result'] as const;

const num = (v: number | undefined, digits = 0) => (v === undefined ? '' : v.toFixed(digits));

function cells(row: Row): string[] {
  return [
    row.scenario,
    num(row.rps),
    num(row.p50, row.p50 !== undefined && row.p50 < 10 ? 1 : 0),
    num(row.p99, row.p99 !== undefined && row.p99 < 10 ? 1 : 0),
    row.vsBaseline === undefined ? '' : `${row.vsBaseline.toFixed(row.vsBaseline < 0.1 ? 3 : 2)}×`,
    row.target ?? '',
    row.measured ?? '',
    row.pass === undefined ? '' : row.pass ? 'PASS' : 'FAIL',
  ];
}

export function formatTable(rows: Row[]): string {
  const body = rows.map(cells);
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...body.map((r) => (r[i] as string).length)));
  const line = (r: readonly string[]) => r.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(COLUMNS), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function formatMarkdown(report: Report): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    `# Benchmark results (${report.startedAt})`,
    '',
    `\`${report.command}\` — ${report.users} users, ${report.machine.cores} cores (${report.machine.cpu}), Node ${report.machine.node}`,
    '',
    `| ${COLUMNS.join(' | ')} |`,
    `|${COLUMNS.map(() => '---').join('|')}|`,
    ...report.rows.map((r) => `| ${cells(r).map(esc).join(' | ')} |`),
    '',
    ...report.notes.map((n) => `- ${n}`),
    '',
  ];
  return lines.join('\n');
}

export function writeReport(report: Report, dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(path.join(dir, 'latest.md'), formatMarkdown(report));
}
