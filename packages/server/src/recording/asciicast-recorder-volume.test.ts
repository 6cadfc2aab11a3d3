import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { parseAsciicast } from './asciicast-parse.ts';
import { createAsciicastRecorder, type Recorder } from './asciicast-recorder.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sesame-recorder-volume-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const drained = (recorder: Recorder) => new Promise<void>((resolve) => recorder.onDrain(resolve));

/** Shell-like output: colour escapes, CRLF, quotes, backslashes and multi-byte characters. */
function sampleOutput(size: number): Buffer {
  const line = Buffer.from('-rw-r--r-- 1 alice ops 4096 \u001b[01;34mrapport-€-😀\u001b[0m "a\\b"\r\n');
  const out = Buffer.alloc(size);
  for (let at = 0; at < size; at += line.length) line.copy(out, at);
  return out;
}

/** Records `source` in chunks, pausing when output() says so, like a relay withholding credit. */
async function record(recorder: Recorder, source: Buffer, chunkBytes: number): Promise<number> {
  let pauses = 0;
  for (let at = 0; at < source.length; at += chunkBytes) {
    if (!recorder.output(source.subarray(at, at + chunkBytes))) {
      pauses++;
      await drained(recorder);
    }
  }
  return pauses;
}

const outputOf = (text: string) =>
  parseAsciicast(text)
    .events.filter((event) => event[1] === 'o')
    .map((event) => event[2])
    .join('');

describe('recorder volume and backpressure', () => {
  it('asks the caller to pause above maxPendingBytes and calls onDrain later, losing nothing', async () => {
    const path = join(dir, 'backpressure.cast');
    const recorder = await createAsciicastRecorder({ path, width: 80, height: 24, maxPendingBytes: 1024 });
    assert.equal(recorder.output(Buffer.from('small')), true);
    let drainedCalls = 0;
    recorder.onDrain(() => drainedCalls++); // already within the limit: called soon
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(drainedCalls, 1);

    assert.equal(recorder.output(Buffer.alloc(4096, 'x')), false);
    let later = false;
    const drain = drained(recorder).then(() => {
      later = true;
    });
    assert.equal(later, false);
    await drain;
    const source = sampleOutput(300_000);
    const pauses = await record(recorder, source, 1000);
    assert.ok(pauses > 10, `expected many pauses, saw ${pauses}`);
    await recorder.close();
    assert.equal(drainedCalls, 1);
    const text = await readFile(path, 'utf8');
    assert.equal(outputOf(text), `small${'x'.repeat(4096)}${source.toString('utf8')}`);
  });

  it('records 50 MB of output in 32 KiB chunks completely', async (t) => {
    const path = join(dir, 'volume.cast');
    const source = sampleOutput(50 * 1024 * 1024);
    const started = performance.now();
    const recorder = await createAsciicastRecorder({ path, width: 200, height: 50 });
    const pauses = await record(recorder, source, 32 * 1024);
    await recorder.close('session ended');
    const seconds = (performance.now() - started) / 1000;
    const { size } = await stat(path);
    t.diagnostic(
      `recorded ${(source.length / 1e6).toFixed(1)} MB of output into a ${(size / 1e6).toFixed(1)} MB file in ` +
        `${seconds.toFixed(2)} s: ${(source.length / 1e6 / seconds).toFixed(0)} MB/s (${pauses} pauses)`,
    );
    assert.equal(size, recorder.bytesWritten);
    const text = await readFile(path, 'utf8');
    const output = outputOf(text);
    const expected = source.toString('utf8');
    assert.equal(output.length, expected.length);
    assert.ok(output === expected, 'recorded output differs from the source');
    assert.deepEqual(parseAsciicast(text).events.at(-1)?.slice(1), ['m', 'session ended']);
  });

  const asciinema = spawnSync('which', ['asciinema']).status === 0;
  const script = spawnSync('which', ['script']).status === 0;
  const skip = !asciinema
    ? 'asciinema is not installed (apt-get install asciinema)'
    : !script
      ? '`script` (util-linux) is not installed: asciinema cat needs a terminal'
      : false;
  it('is accepted by asciinema cat', { skip }, async () => {
    const path = join(dir, 'asciinema.cast');
    const recorder = await createAsciicastRecorder({
      path,
      width: 80,
      height: 24,
      env: { TERM: 'xterm-256color', SHELL: '/bin/sh' },
      meta: { user: 'alice' },
    });
    const source = sampleOutput(200_000);
    recorder.input(Buffer.from('ls -l\r'));
    for (let at = 0; at < source.length; at += 777) recorder.output(source.subarray(at, at + 777));
    recorder.resize(100, 30);
    recorder.marker('checkpoint');
    await recorder.close('session ended: terminated by alice');
    // asciinema cat opens /dev/tty, so run it in a pseudo-terminal and send its output to a file
    const printed = join(dir, 'asciinema.out');
    const result = spawnSync('script', ['-qec', `asciinema cat '${path}' > '${printed}'`, '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, LANG: 'C.UTF-8', PYTHONIOENCODING: 'utf-8' },
    });
    assert.equal(result.status, 0, `asciinema cat failed: ${result.stdout}${result.stderr}`);
    assert.ok(
      (await readFile(printed)).equals(source),
      'asciinema cat printed something else than the output',
    );
  });
});
