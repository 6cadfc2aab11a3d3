/**
 * Preloaded into the Sesame server by the bench (NODE_OPTIONS=--import …/gc-count.mjs, BENCH_GC_FILE=path):
 * counts the process's garbage collections, full (mark-compact) and young (scavenge), and on SIGUSR2 writes the
 * counts so far to BENCH_GC_FILE as JSON, with its pid and `asked` counting the signals, for the bench to read
 * around a run. The pause times are the collections' own; a full collection's incremental marking steps before
 * it are not counted.
 */
import { writeFileSync } from 'node:fs';
import { constants, PerformanceObserver } from 'node:perf_hooks';

const file = process.env.BENCH_GC_FILE;
if (file) {
  const counts = { pid: process.pid, asked: 0, full: 0, young: 0, fullMs: 0, youngMs: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = entry.detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        counts.full++;
        counts.fullMs += entry.duration;
      } else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) {
        counts.young++;
        counts.youngMs += entry.duration;
      }
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('SIGUSR2', () => {
    counts.asked++;
    writeFileSync(file, JSON.stringify(counts));
  });
}
