import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAsciicast } from './asciicast-parse.ts';
import { createAsciicastRecorder } from './asciicast-recorder.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sesame-recorder-errors-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const recorderModule = fileURLToPath(new URL('./asciicast-recorder.ts', import.meta.url));

/**
 * Runs in a child whose file size limit (ulimit -f, 64 KiB) makes the kernel fail a real write with EFBIG
 * (Node ignores SIGXFSZ). Prints what the recorder reported as JSON.
 */
const childScript = `
import { createAsciicastRecorder } from ${JSON.stringify(recorderModule)};
const recorder = await createAsciicastRecorder({ path: process.argv[1], width: 80, height: 24 });
const reported = [];
recorder.onError((error) => reported.push(error));
let chunks = 0;
while (!recorder.failed && chunks < 100) {
  chunks++;
  if (!recorder.output(Buffer.alloc(16384, 'a'))) {
    await new Promise((resolve) => { recorder.onDrain(resolve); recorder.onError(resolve); });
  }
}
let late;
recorder.onError((error) => { late = error; });
await new Promise((resolve) => setImmediate(resolve));
const closed = await recorder.close('end').then(() => 'resolved', (error) => error.message);
process.stdout.write(JSON.stringify({
  message: recorder.failed?.message,
  code: recorder.failed?.cause?.code,
  reported: reported.length,
  sameError: reported[0] === recorder.failed && late === recorder.failed,
  acceptsMore: recorder.output(Buffer.from('more')),
  closed,
  bytesWritten: recorder.bytesWritten,
}));
`;

describe('recorder errors', () => {
  it('refuses to overwrite an existing file', async () => {
    const path = join(dir, 'exists.cast');
    await writeFile(path, 'keep me');
    await assert.rejects(createAsciicastRecorder({ path, width: 80, height: 24 }), (error: Error) => {
      assert.match(
        error.message,
        /recording .*exists\.cast already exists; recordings are never overwritten/,
      );
      assert.equal((error.cause as NodeJS.ErrnoException).code, 'EEXIST');
      return true;
    });
    assert.equal(await readFile(path, 'utf8'), 'keep me');
  });

  it('says so when the file cannot be created', async () => {
    await mkdir(join(dir, 'blocked'));
    await writeFile(join(dir, 'blocked/file'), '');
    for (const path of ['/dev/full/recording.cast', join(dir, 'blocked/file/recording.cast')]) {
      await assert.rejects(createAsciicastRecorder({ path, width: 80, height: 24 }), {
        message: new RegExp(`^cannot create recording ${path}: .*; check the recordings directory$`),
      });
    }
  });

  it('reports a disk write error through failed, onError and close, and drops later events', async (t) => {
    const path = join(dir, 'efbig/recording.cast');
    const node = [
      process.execPath,
      '--import',
      import.meta.resolve('tsx'),
      '--input-type=module',
      '--eval',
      childScript,
    ];
    const result = spawnSync('bash', ['-c', 'ulimit -f 64 && exec "$0" "$@"', ...node, path], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (result.error) return t.skip(`cannot run a child under a file size limit: ${result.error.message}`);
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.code, 'EFBIG');
    assert.match(report.message, /^writing recording .*recording\.cast failed: EFBIG.*must end/);
    assert.equal(report.reported, 1);
    assert.equal(report.sameError, true);
    assert.equal(report.acceptsMore, false);
    assert.equal(report.closed, report.message);
    // The kernel took bytes up to the limit, in the middle of an event; the file is cut back to whole events.
    const { size } = await stat(path);
    assert.ok(size < 64 * 1024 && size > 32 * 1024, `size ${size}`);
    assert.equal(report.bytesWritten, size);
    const text = await readFile(path, 'utf8');
    assert.ok(text.endsWith('"]\n'), JSON.stringify(text.slice(-20)));
    const { events } = parseAsciicast(text);
    assert.ok(events.length >= 2, `${events.length} events`);
    assert.ok(events.every((e) => e[1] === 'o' && e[2] === 'a'.repeat(16384)));
  });

  it('leaves a parseable file when the recorder is closed right after creation', async () => {
    const path = join(dir, 'empty.cast');
    const recorder = await createAsciicastRecorder({ path, width: 80, height: 24 });
    await recorder.close();
    await recorder.close();
    assert.deepEqual(parseAsciicast(await readFile(path, 'utf8')).events, []);
  });
});
