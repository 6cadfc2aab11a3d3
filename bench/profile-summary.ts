/**
 * `node --import tsx bench/profile-summary.ts FILE.cpuprofile [N]`: the functions with the most self time
 * in a V8 CPU profile (as written by cpu-profile.mjs), and the share of idle, GC and program time.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

type Node = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
};
type Profile = { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };

export function summarize(profile: Profile, top = 25): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, number>();
  for (const [id, micros] of self) {
    const frame = (byId.get(id) as Node).callFrame;
    const where = frame.url ? `${basename(frame.url)}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName || '(anonymous)'} ${where}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
  }
  const rows = [...byFunction].sort((a, b) => b[1] - a[1]);
  const idle = byFunction.get('(idle)') ?? 0;
  const busy = total - idle;
  const pct = (v: number, of: number) => `${((100 * v) / of).toFixed(1).padStart(5)}%`;
  return [
    `sampled ${(total / 1e6).toFixed(2)} s, busy ${(busy / 1e6).toFixed(2)} s (idle ${pct(idle, total)})`,
    '  self ms  % busy  function',
    ...rows
      .filter(([name]) => name !== '(idle)')
      .slice(0, top)
      .map(([name, v]) => `${(v / 1000).toFixed(0).padStart(9)}  ${pct(v, busy)}  ${name}`),
  ].join('\n');
}

if (import.meta.filename === process.argv[1]) {
  const [file, top] = process.argv.slice(2);
  if (!file) throw new Error('usage: profile-summary.ts FILE.cpuprofile [N]');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  process.stdout.write(`${summarize(profile, Number(top ?? 25))}\n`);
}
