import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { HEAP_GROWING_PERCENT, operatorSetsHeapGrowth } from './heap-tuning.ts';

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
  // V8 11 (node 20) prints the factor it used at the end of the limit line; newer V8 prints it in the line before.
  const lines = [
    ...run.stdout.matchAll(/\[HeapController\] (?:Limit: .*\(([\d.]+)\)$|factor ([\d.]+) based on)/gm),
  ];
  assert.ok(lines.length > 0, `no [HeapController] line in:\n${run.stdout.slice(0, 2000)}`);
  const last = lines.at(-1) as RegExpMatchArray;
  return (last[1] ?? last[2]) as string;
}

test('tuneHeap makes V8 grow the old generation to 4 times its live size', () => {
  const tuned = (1 + HEAP_GROWING_PERCENT / 100).toFixed(1);
  assert.equal(tuned, '4.0');
  assert.notEqual(factorAfterTuning([], false), tuned, 'without tuneHeap, V8 chooses its own factor');
  assert.equal(factorAfterTuning([]), tuned);
});

test('an operator --heap-growing-percent on the node command line wins', () => {
  assert.equal(factorAfterTuning(['--heap-growing-percent=50']), '1.5');
});

test('the operator flag is recognized in every spelling node passes on to V8, and nothing else', () => {
  for (const arg of ['--heap-growing-percent=50', '--heap_growing_percent=80', '-heap-growing-percent=0'])
    assert.equal(operatorSetsHeapGrowth(['--enable-source-maps', arg]), true, arg);
  for (const arg of ['--heap-growing-percentage=50', '--max-old-space-size=512'])
    assert.equal(operatorSetsHeapGrowth([arg]), false, arg);
});
