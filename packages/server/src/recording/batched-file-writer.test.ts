import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BatchedFileWriter } from './batched-file-writer.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sesame-batched-writer-'));
});
after(() => rm(dir, { recursive: true, force: true }));

let files = 0;
async function writer(options: { slabBytes: number; maxPendingBytes?: number }) {
  const path = join(dir, `out-${++files}`);
  const handle = await open(path, 'wx', 0o600);
  const out = new BatchedFileWriter(handle, {
    maxPendingBytes: options.maxPendingBytes ?? 1024 * 1024,
    slabBytes: options.slabBytes,
    describe: (error) => error as Error,
  });
  return { out, path };
}

/** Copies `bytes` into the writer the way the recorder encodes: reserve, write at offset, commit. */
function put(out: BatchedFileWriter, bytes: Uint8Array): Buffer {
  const slab = out.reserve(bytes.length);
  slab.set(bytes, out.offset);
  out.commit(out.offset + bytes.length);
  return slab;
}

describe('BatchedFileWriter slabs', () => {
  it('reuses a full slab once its bytes are on disk', async () => {
    const { out, path } = await writer({ slabBytes: 64 * 1024 });
    const first = put(out, Buffer.alloc(40 * 1024, 'a'));
    await out.flush();
    const second = put(out, Buffer.alloc(40 * 1024, 'b'));
    assert.equal(second, first, 'the written slab is encoded into again');
    await out.close();
    const text = await readFile(path, 'latin1');
    assert.equal(text, `${'a'.repeat(40 * 1024)}${'b'.repeat(40 * 1024)}`);
  });

  it('never reuses a slab whose bytes are not written yet', async () => {
    const { out, path } = await writer({ slabBytes: 64 * 1024 });
    const first = put(out, Buffer.alloc(40 * 1024, 'a'));
    const second = put(out, Buffer.alloc(40 * 1024, 'b')); // no flush in between: 'a' is still pending
    assert.notEqual(second, first);
    const third = put(out, Buffer.alloc(40 * 1024, 'c'));
    assert.notEqual(third, second);
    await out.close();
    const text = await readFile(path, 'latin1');
    assert.equal(text, `${'a'.repeat(40 * 1024)}${'b'.repeat(40 * 1024)}${'c'.repeat(40 * 1024)}`);
  });

  it('writes every byte in order through many reused slabs', async () => {
    const { out, path } = await writer({ slabBytes: 64 * 1024, maxPendingBytes: 128 * 1024 });
    const source = randomBytes(3 * 1024 * 1024);
    const slabs = new Set<Buffer>();
    let at = 0;
    let step = 0;
    while (at < source.length) {
      const size = Math.min(source.length - at, 1 + ((step * 7919) % (30 * 1024)));
      slabs.add(put(out, source.subarray(at, at + size)));
      at += size;
      step++;
      if (!out.accepting) await new Promise<void>((resolve) => out.onDrain(resolve));
    }
    await out.close();
    assert.deepEqual(await readFile(path), source);
    assert.ok(slabs.size < 10, `3 MB went through ${slabs.size} slabs of 64 KB, not one per 64 KB`);
  });
});
