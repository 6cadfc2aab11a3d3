import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';

/** A process whose stop takes `stopMs` (or never ends, -1), started with stopOnSignals and ready for signals. */
async function stoppable(stopMs: number) {
  const module = join(import.meta.dirname, 'stop-signals.ts');
  const script = `
    import { stopOnSignals } from ${JSON.stringify(module)};
    stopOnSignals(
      () => new Promise((done) => { process.stdout.write('stopping\\n'); if (${stopMs} >= 0) setTimeout(done, ${stopMs}); }),
      (line) => process.stderr.write(line + '\\n'),
      () => process.stdout.write('killed the child\\n'),
    );
    setInterval(() => {}, 1000);
    process.stdout.write('ready\\n');`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d;
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
  });
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  const until = async (text: string) => {
    while (!stdout.includes(text)) await once(child.stdout, 'data');
  };
  await until('ready');
  return { child, exited, until, output: () => ({ stdout, stderr }) };
}

test('the first signal stops cleanly and exits 0 once the stop is done', async () => {
  const p = await stoppable(50);
  p.child.kill('SIGTERM');
  assert.deepEqual(await p.exited, [0, null]);
  assert.equal(p.output().stderr, '');
});

test('a second Ctrl-C while the stop hangs exits at once (130), saying so', async () => {
  const p = await stoppable(-1);
  p.child.kill('SIGINT');
  await p.until('stopping');
  assert.equal(p.child.exitCode, null, 'still stopping after the first');
  p.child.kill('SIGINT');
  assert.deepEqual(await p.exited, [130, null]);
  assert.match(p.output().stdout, /killed the child\n$/, 'what was waited for is stopped too');
  assert.match(
    p.output().stderr,
    /^SIGINT again: stopping at once; sessions still open are ended at the next start\n$/,
  );
});
