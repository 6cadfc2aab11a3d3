import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { HEAP_GROWING_PERCENT, tuneHeap } from './heap-tuning.ts';

/**
 * The growing factor V8 used for the old-generation limit after a full collection, in a new node process that
 * calls tuneHeap() first unless `tune` is false (read from V8's own --trace-gc-verbose line "[HeapController]
 * Limit: … (4.0)"). The heap is capped at 128 MB, where V8's own factor is at most 2, so the tuned factor shows.
 */
function factorAfterTuning(nodeFlags: string[], tune = true): string {
  const script = [
    `const { tuneHeap } = await import(${JSON.stringify(new URL('./heap-tuning.ts', import.meta.url).href)});`,
    tune ? 'tuneHeap();' : '',
    'globalThis.kept = Array.from({ length: 100000 }, (_, i) => ({ i }));',
    'globalThis.gc();',
  ].join('\n');
  const run = spawnSync(
    process.execPath,
    [
      ...nodeFlags,
      '--max-old-space-size=128',
      '--trace-gc-verbose',
      '--expose-gc',
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      script,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(run.status, 0, run.stderr);
  assert.doesNotMatch(run.stdout + run.stderr, /unrecognized flag/);
  const limits = [...run.stdout.matchAll(/\[HeapController\] Limit: .*\(([\d.]+)\)/g)];
  assert.ok(limits.length > 0, `no [HeapController] limit line in:\n${run.stdout.slice(0, 2000)}`);
  return limits.at(-1)?.[1] as string;
}

test('tuneHeap makes V8 grow the old generation to 4 times its live size', () => {
  assert.equal(HEAP_GROWING_PERCENT, 300);
  assert.notEqual(factorAfterTuning([], false), '4.0', 'without tuneHeap, V8 chooses its own factor');
  assert.equal(factorAfterTuning([]), '4.0');
});

test('an operator --heap-growing-percent on the node command line wins', () => {
  assert.equal(factorAfterTuning(['--heap-growing-percent=50']), '1.5');
});

test('tuneHeap leaves the flag alone when the command line has it, in either spelling', () => {
  assert.equal(tuneHeap(['--heap-growing-percent=50']), undefined);
  assert.equal(tuneHeap(['--heap_growing_percent=80']), undefined);
  assert.equal(tuneHeap(['--heap-growing-percentage=50']), `--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
});
