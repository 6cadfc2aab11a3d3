/**
 * Preloaded with `NODE_OPTIONS=--import …/cpu-profile.mjs` (Node 20 refuses --cpu-prof in NODE_OPTIONS):
 * profiles the whole process with the inspector and writes a .cpuprofile into BENCH_CPU_PROF_DIR on exit
 * (open it in Chrome DevTools, or summarize it with `node bench/profile-summary.ts FILE`).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { basename, join } from 'node:path';

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 200 });
  session.post('Profiler.start');
  process.on('exit', () => {
    // Same-thread inspector sessions answer synchronously, so this completes inside the exit handler.
    session.post('Profiler.stop', (error, result) => {
      if (error) return;
      const name = basename(process.argv[1] ?? 'node').replace(/\.[cm]?js$/, '');
      writeFileSync(join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
