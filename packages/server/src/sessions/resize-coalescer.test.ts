import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createResizeCoalescer } from './resize-coalescer.ts';

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a flood of resizes becomes the first and then the latest, and repeats of the current size are dropped', async () => {
  const applied: string[] = [];
  const resizes = createResizeCoalescer((c, r) => applied.push(`${c}x${r}`), {
    intervalMs: 30,
    current: { cols: 80, rows: 24 },
  });
  resizes.resize(80, 24); // the size it already has
  assert.deepEqual(applied, []);
  for (let i = 1; i <= 10_000; i++) resizes.resize(80 + (i % 50), 24);
  resizes.resize(132, 43);
  await settle(120);
  assert.deepEqual(applied, ['81x24', '132x43']);
  resizes.resize(132, 43);
  await settle(60);
  assert.deepEqual(applied, ['81x24', '132x43'], 'the same size again is not passed on');
  resizes.resize(100, 30);
  assert.deepEqual(applied.at(-1), '100x30', 'after a quiet spell, a resize passes at once');
});

test('stop drops a waiting resize', async () => {
  const applied: string[] = [];
  const resizes = createResizeCoalescer((c, r) => applied.push(`${c}x${r}`), {
    intervalMs: 20,
    current: { cols: 80, rows: 24 },
  });
  resizes.resize(90, 24);
  resizes.resize(91, 24);
  resizes.stop();
  await settle(60);
  assert.deepEqual(applied, ['90x24']);
});
