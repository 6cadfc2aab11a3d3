import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAsciicast } from './asciicast-parse.ts';
import { createAsciicastRecorder } from './asciicast-recorder.ts';

let dir = '';
let count = 0;
const nextPath = () => join(dir, `nested/dir/${++count}.cast`);
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sesame-recorder-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const read = async (path: string) => parseAsciicast(await readFile(path, 'utf8'));
const data = (events: [number, string, string][], code: string) =>
  events
    .filter((event) => event[1] === code)
    .map((event) => event[2])
    .join('');

describe('createAsciicastRecorder', () => {
  it('round-trips interleaved input, output, resize and markers, with characters split across chunks', async () => {
    const path = nextPath();
    const recorder = await createAsciicastRecorder({
      path,
      width: 80,
      height: 24,
      startedAt: 1_700_000_000_999,
      title: 'alice@web-1',
      env: { TERM: 'xterm-256color', SHELL: '/bin/bash' },
      meta: { sessionId: 'alice-0123456789abcdef0', user: 'alice', instanceId: 'i-0123456789abcdef0' },
    });
    const output = Buffer.from('$ echo "€ 😀"\r\n\u001b[1m€ 😀\u001b[0m \\ done\r\n\ufeffbom kept\r\n');
    const euro = output.indexOf(Buffer.from('€'));
    const emoji = output.indexOf(Buffer.from('😀'));
    const input = Buffer.from('echo "€ 😀"\r');
    const cuts = [0, euro + 1, euro + 2, emoji + 1, emoji + 3, output.length - 5, output.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      assert.equal(recorder.output(output.subarray(cuts[i], cuts[i + 1])), true);
      if (i === 1) assert.equal(recorder.input(input.subarray(0, 7)), true); // ends inside '€'
      if (i === 2) recorder.resize(120, 40);
      if (i === 3) recorder.input(input.subarray(7));
      if (i === 4) recorder.marker('checkpoint');
    }
    await recorder.close('session ended: terminated by alice');

    const { header, events } = await read(path);
    assert.deepEqual(header, {
      version: 2,
      width: 80,
      height: 24,
      timestamp: 1_700_000_000,
      title: 'alice@web-1',
      env: { TERM: 'xterm-256color', SHELL: '/bin/bash' },
      sesame: { sessionId: 'alice-0123456789abcdef0', user: 'alice', instanceId: 'i-0123456789abcdef0' },
    });
    assert.deepEqual(
      events.map((event) => event[1]),
      // the chunk holding only the first byte of '€' makes no event, nor the one ending inside '😀'
      ['o', 'i', 'o', 'r', 'i', 'o', 'm', 'o', 'm'],
    );
    assert.equal(data(events, 'o'), output.toString('utf8'));
    assert.equal(data(events, 'i'), input.toString('utf8'));
    assert.deepEqual(events.find((event) => event[1] === 'r')?.[2], '120x40');
    assert.deepEqual(events.at(-1)?.slice(1), ['m', 'session ended: terminated by alice']);
    for (let i = 1; i < events.length; i++) assert.ok(events[i]![0] >= events[i - 1]![0]);
    const file = await stat(path);
    assert.equal(file.size, recorder.bytesWritten);
    assert.equal(file.mode & 0o777, 0o600);
    assert.equal(recorder.path, path);
    assert.equal(recorder.failed, undefined);
  });

  it('times events from the clock relative to creation, never decreasing', async () => {
    const path = nextPath();
    const times = [5_000, 5_250.5, 6_000, 5_900, 7_234.5678];
    const recorder = await createAsciicastRecorder({
      path,
      width: 80,
      height: 24,
      clock: () => times.shift()!,
    });
    recorder.output(Buffer.from('a'));
    recorder.output(Buffer.from('b'));
    recorder.output(Buffer.from('c')); // the clock went back: keeps the previous time
    await recorder.close('end');
    const text = await readFile(path, 'utf8');
    assert.match(text, /\n\[0\.250500,"o","a"\]\n\[1\.000000,"o","b"\]\n\[1\.000000,"o","c"\]\n/);
    assert.deepEqual(
      (await read(path)).events.map((event) => event[0]),
      [0.2505, 1, 1, 2.234568],
    );
  });

  it('writes an unfinished character as U+FFFD on close, before the final marker', async () => {
    const path = nextPath();
    const recorder = await createAsciicastRecorder({ path, width: 80, height: 24 });
    recorder.output(Buffer.from([0x41, 0xe2, 0x82]));
    recorder.input(Buffer.from([0xf0]));
    await recorder.close('bye');
    const { events } = await read(path);
    assert.deepEqual(
      events.map((event) => event.slice(1)),
      [
        ['o', 'A'],
        ['o', '\ufffd'],
        ['i', '\ufffd'],
        ['m', 'bye'],
      ],
    );
  });

  it('closes once and drops events after close', async () => {
    const path = nextPath();
    const recorder = await createAsciicastRecorder({ path, width: 80, height: 24 });
    recorder.output(Buffer.from('hi'));
    const closing = recorder.close('first');
    assert.equal(recorder.close('second'), closing);
    assert.equal(recorder.output(Buffer.from('late')), false);
    recorder.marker('late');
    recorder.resize(1, 1);
    await closing;
    const { header, events } = await read(path);
    assert.equal(header.timestamp, Math.floor(header.timestamp!));
    assert.deepEqual(
      events.map((event) => event.slice(1)),
      [
        ['o', 'hi'],
        ['m', 'first'],
      ],
    );
  });

  it('writes only the header for a session without events', async () => {
    const path = nextPath();
    const recorder = await createAsciicastRecorder({ path, width: 132, height: 43 });
    const headerBytes = recorder.bytesWritten;
    assert.equal((await stat(path)).size, headerBytes); // on disk before the recorder is returned
    await recorder.close();
    assert.equal(recorder.bytesWritten, headerBytes);
    const { header, events } = await read(path);
    assert.deepEqual([header.width, header.height, events], [132, 43, []]);
  });

  it('rejects sizes that are not positive integers', async () => {
    const path = nextPath();
    await assert.rejects(createAsciicastRecorder({ path, width: 0, height: 24 }), RangeError);
    await assert.rejects(stat(path), { code: 'ENOENT' });
    const recorder = await createAsciicastRecorder({ path, width: 80, height: 24 });
    assert.throws(() => recorder.resize(80.5, 24), RangeError);
    assert.throws(() => recorder.resize(80, -1), RangeError);
    await recorder.close();
  });
});
