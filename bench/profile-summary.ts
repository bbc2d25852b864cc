/**
 * Top self-time functions of a V8 .cpuprofile (as `node --cpu-prof` writes): where the service's
 * main thread spent its time. Standalone: node --import tsx bench/profile-summary.ts <file> [top]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: a package, the service's own dist/src, Node itself, or native. */
function owner(url: string): string {
  if (url === '') return '(native / V8)';
  if (url.startsWith('node:')) return 'node internals';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg !== null) return pkg[1] as string;
  const own = /\/(dist\/src|src|bench)\/(.*)$/.exec(url);
  return own === null ? url : `${own[1]}/${own[2]}`;
}

export function summariseProfile(file: string, top = 20): string[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Inclusive time per package: a sample counts once for every package on its stack (start-up
  // is mostly module loading, so this says which imports cost the most).
  const inclusive = new Map<string, number>();
  const self = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (node === undefined) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url === '' ? '' : ` ${url.replace(/^file:\/\//, '').replace(/^.*node_modules\//, '~/')}:${lineNumber + 1}`;
    const key = `${functionName || '(anonymous)'}${where}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    if (functionName !== '(idle)') {
      const o = url === '' ? `${functionName || '(anonymous)'} (native)` : owner(url);
      byOwner.set(o, (byOwner.get(o) ?? 0) + dt);
    }
    total += dt;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const url = byId.get(at)?.callFrame.url ?? '';
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? (/\/dist\/src\//.test(url) ? 'dist/src (the service)' : /\/dist\/server\//.test(url) ? 'dist/server (the bundle: service + bundled packages)' : undefined);
      if (pkg !== undefined && !seen.has(pkg)) {
        seen.add(pkg);
        inclusive.set(pkg, (inclusive.get(pkg) ?? 0) + dt);
      }
    }
  });
  const idle = self.get('(idle)') ?? 0;
  const lines = [`${path.basename(file)}: ${(total / 1000).toFixed(0)} ms sampled, ${(((total - idle) / total) * 100).toFixed(0)}% busy`];
  const busy = total - idle;
  const share = (us: number) => `${((us / busy) * 100).toFixed(1).padStart(5)}% of busy  ${(us / 1000).toFixed(0).padStart(6)} ms`;
  lines.push('top self time by function:');
  for (const [key, us] of [...self].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`${share(us)}  ${key}`);
  }
  lines.push('self time by owner (package / file):');
  for (const [key, us] of [...byOwner].sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`${share(us)}  ${key}`);
  lines.push('inclusive time by package (a stack counts once per package on it):');
  for (const [key, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`${share(us)}  ${key}`);
  return lines;
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const [file, top] = process.argv.slice(2);
  if (file === undefined) {
    process.stderr.write('usage: bench/profile-summary.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${summariseProfile(file, Number(top ?? 20)).join('\n')}\n`);
}
