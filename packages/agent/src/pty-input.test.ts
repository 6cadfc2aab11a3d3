import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawn } from 'node-pty';
import { PtyInput } from './pty-input.ts';

test('input waits in order while the terminal is full and all of it arrives exactly once', async () => {
  const total = 200_000;
  // The program reads nothing for half a second, so the terminal's input buffer fills up.
  const pty = spawn('/bin/sh', ['-c', `stty raw -echo; echo READY; sleep 0.5; head -c ${total} | md5sum`], {
    cols: 80,
    rows: 24,
  });
  let output = '';
  let ready: () => void = () => {};
  const raw = new Promise<void>((resolve) => {
    ready = resolve;
  });
  pty.onData((d) => {
    output += d;
    if (output.includes('READY')) ready();
  });
  const exited = new Promise<void>((resolve) => pty.onExit(() => resolve()));
  await raw; // stty has run: the terminal is raw, so no line limit applies to the input
  const input = new PtyInput((pty as unknown as { fd: number }).fd);
  const payload = Buffer.alloc(total);
  for (let i = 0; i < total; i++) payload[i] = 32 + ((i * 7) % 90);
  let written = 0;
  const order: number[] = [];
  for (let offset = 0, n = 0; offset < total; offset += 4096, n++) {
    const chunk = payload.subarray(offset, Math.min(offset + 4096, total));
    input.write(chunk, () => {
      written += chunk.length;
      order.push(n);
    });
  }
  assert.ok(written < total, `some input had to wait (${written} of ${total} written at once)`);
  await exited;
  assert.equal(written, total);
  assert.deepEqual(
    order,
    [...order].sort((a, b) => a - b),
    'chunks are written in order',
  );
  const { createHash } = await import('node:crypto');
  assert.match(output, new RegExp(createHash('md5').update(payload).digest('hex')));
});
