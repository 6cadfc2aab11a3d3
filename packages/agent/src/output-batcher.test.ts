import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { spawn } from 'node-pty';
import { OutputBatcher } from './output-batcher.ts';

const bytes = (length: number, fill: number) => new Uint8Array(length).fill(fill);
const FULL = 4095;

function recorder() {
  const sent: Uint8Array[] = [];
  return { sent, send: (data: Uint8Array) => sent.push(data) };
}

describe('OutputBatcher', () => {
  test('a short read with nothing held leaves at once, the same bytes without a copy', () => {
    const { sent, send } = recorder();
    const batcher = new OutputBatcher(send);
    const echo = bytes(1, 97);
    batcher.push(echo);
    assert.equal(sent.length, 1);
    assert.equal(sent[0], echo);
  });

  test('full reads are joined, in order, until a short read ends the flood', () => {
    const { sent, send } = recorder();
    const batcher = new OutputBatcher(send);
    batcher.push(bytes(FULL, 1));
    batcher.push(bytes(FULL, 2));
    batcher.push(bytes(FULL, 3));
    assert.equal(sent.length, 0, 'held while full reads keep coming');
    batcher.push(bytes(10, 4));
    assert.equal(sent.length, 1);
    const joined = sent[0] as Uint8Array;
    assert.equal(joined.length, 3 * FULL + 10);
    assert.deepEqual([joined[0], joined[FULL], joined[2 * FULL], joined[3 * FULL]], [1, 2, 3, 4]);
  });

  test('a full read that nothing follows leaves after the delay', async () => {
    const { sent, send } = recorder();
    const batcher = new OutputBatcher(send, { maxDelayMs: 5 });
    batcher.push(bytes(FULL, 7));
    assert.equal(sent.length, 0);
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(sent.length, 1);
    assert.equal(sent[0]?.length, FULL);
  });

  test('never holds more than maxBytes', () => {
    const { sent, send } = recorder();
    const batcher = new OutputBatcher(send, { maxBytes: 3 * FULL });
    for (let i = 0; i < 10; i++) batcher.push(bytes(FULL, i));
    batcher.flush();
    assert.ok(
      sent.every((d) => d.length <= 3 * FULL),
      sent.map((d) => d.length).join(','),
    );
    assert.equal(
      sent.reduce((n, d) => n + d.length, 0),
      10 * FULL,
    );
    assert.deepEqual(
      sent.flatMap((d) => [...new Set(d)]),
      [...Array(10).keys()],
      'every read once, in order',
    );
  });

  test('flush sends what is held now; discard drops it and its timer', async () => {
    const { sent, send } = recorder();
    const batcher = new OutputBatcher(send, { maxDelayMs: 5 });
    batcher.push(bytes(FULL, 1));
    batcher.flush();
    assert.equal(sent.length, 1);
    batcher.flush();
    assert.equal(sent.length, 1, 'nothing more to send');
    batcher.push(bytes(FULL, 2));
    batcher.discard();
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(sent.length, 1, 'discarded bytes never leave');
  });

  test('a flood from a real PTY arrives whole, in order, in fewer frames than reads', async (t) => {
    // Base64 lines, like a log being cat'ed. Raw mode keeps the bytes as they are; the shell waits for a line
    // after `cat`, sent once every byte was read, since a terminal's unread output is lost when it closes (the
    // agent holds the terminal open for that instead).
    const dir = mkdtempSync(join(tmpdir(), 'sesame-batcher-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'flood.txt');
    writeFileSync(file, `${randomBytes(1_500_000).toString('base64').replace(/.{76}/g, '$&\n')}\n`);
    const expected = readFileSync(file);
    const pty = spawn('/bin/sh', ['-c', `stty raw -echo; cat ${file}; read done`], {
      cols: 80,
      rows: 24,
      encoding: null,
    });
    const frames: Uint8Array[] = [];
    let reads = 0;
    const batcher = new OutputBatcher((data) => frames.push(data));
    let bytesRead = 0;
    pty.onData((data) => {
      reads++;
      batcher.push(data as unknown as Uint8Array);
      bytesRead += (data as unknown as Uint8Array).length;
      if (bytesRead >= expected.length && bytesRead - data.length < expected.length) pty.write('\n');
    });
    await new Promise<void>((resolve) => pty.onExit(() => resolve()));
    batcher.flush();
    const received = Buffer.concat(frames);
    assert.equal(received.length, expected.length);
    assert.ok(received.equals(expected), 'the same bytes in the same order');
    assert.ok(frames.length < reads, `${frames.length} frames for ${reads} reads`);
  });
});
