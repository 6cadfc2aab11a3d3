/**
 * CPU time of the processes that relay a session (user + system, all threads, from /proc), so each run
 * shows what a megabyte costs on each side and not only how fast it went. Linux only; elsewhere it reads 0.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

type Stat = { pid: number; ppid: number; name: string; cpuSeconds: number };

function stat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const fields = text.slice(close + 2).split(' ');
    return {
      pid,
      ppid: Number(fields[1]),
      name: text.slice(text.indexOf('(') + 1, close),
      cpuSeconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND,
    };
  } catch {
    return undefined;
  }
}

/** The descendants of `pid` (not itself) whose command name is `name`. */
export function descendantsNamed(pid: number, name: string): number[] {
  const all: Stat[] = [];
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const s = stat(Number(entry));
      if (s) all.push(s);
    }
  } catch {
    return [];
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const s of all) {
      if (s.ppid !== parent) continue;
      if (s.name === name) found.push(s.pid);
      walk(s.pid);
    }
  };
  walk(pid);
  return found;
}

/** CPU seconds used so far by each named process (its own threads, not its children). */
export function cpuSeconds(processes: Record<string, number[]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [label, pids] of Object.entries(processes))
    out[label] = pids.reduce((sum, pid) => sum + (stat(pid)?.cpuSeconds ?? 0), 0);
  return out;
}

/** Per-label CPU seconds used between two readings. */
export function cpuDelta(before: Record<string, number>, after: Record<string, number>) {
  const out: Record<string, number> = {};
  for (const label of Object.keys(after)) out[label] = (after[label] ?? 0) - (before[label] ?? 0);
  return out;
}

/** The 1-minute load average (other work on the machine skews every number here). */
export function loadAverage(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return Number.NaN;
  }
}
