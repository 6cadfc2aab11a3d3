// A recording its server never closed (killed mid-session, or the machine stopped) is sealed at the next start:
// a last line cut mid-write goes, and a final event says why it ends there. Then it parses again.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { createServer } from '../main.ts';
import { session } from '../store/store-test-fixtures.ts';
import { openDataDirectoryStore } from '../store/test-secrets.ts';
import { parseAsciicast } from './asciicast-parse.ts';
import { sealRecording } from './seal-recording.ts';

const dir = mkdtempSync(join(tmpdir(), 'sesame-seal-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const HEADER = '{"version":2,"width":80,"height":24,"timestamp":1700000000}\n';

test('a torn last line is dropped and the end is marked at the last event kept', async () => {
  const path = join(dir, 'torn.cast');
  const long = 'x'.repeat(200_000); // a line longer than the blocks the file is read back in
  const torn = '[1.5,"o","half a li';
  writeFileSync(path, `${HEADER}[0.5,"i","ls\\r"]\n[1.25,"o","${long}"]\n${torn}`);
  assert.deepEqual(await sealRecording(path, 'the server restarted'), {
    droppedBytes: torn.length,
    lastEventSeconds: 1.25,
  });
  const { events } = parseAsciicast(readFileSync(path, 'utf8'));
  assert.equal(events.length, 3);
  assert.deepEqual(events.at(-1), [1.25, 'm', 'session ended: the server restarted']);
});

test('a whole file gets its end marked; a header alone too; no header at all is refused', async () => {
  const whole = join(dir, 'whole.cast');
  writeFileSync(whole, `${HEADER}[0.5,"o","$ "]\n`);
  assert.deepEqual(await sealRecording(whole, 'gone'), { droppedBytes: 0, lastEventSeconds: 0.5 });
  assert.deepEqual(parseAsciicast(readFileSync(whole, 'utf8')).events.at(-1), [
    0.5,
    'm',
    'session ended: gone',
  ]);
  const header = join(dir, 'header.cast');
  writeFileSync(header, HEADER);
  await sealRecording(header, 'gone');
  assert.deepEqual(parseAsciicast(readFileSync(header, 'utf8')).events, [[0, 'm', 'session ended: gone']]);
  const empty = join(dir, 'empty.cast');
  writeFileSync(empty, '{"version":2,"wid');
  await assert.rejects(sealRecording(empty, 'gone'), /has no whole header line: nothing to seal/);
  assert.equal(readFileSync(empty, 'utf8'), '{"version":2,"wid', 'left as it is');
});

test('the next start seals the recording of a session left open, ends it, and audits it', async () => {
  const dataDir = join(dir, 'data');
  const config = loadConfig({ SESAME_DATA_DIR: dataDir, SESAME_PORT: '0', SESAME_LOG_LEVEL: 'silent' });
  // A run that was killed mid-session: the row still Connected, the recording's last line half written.
  const first = await createServer(config, createLogger({ level: 'silent' }));
  await first.close();
  const store = await openDataDirectoryStore(dataDir);
  const key = 'recordings/2026/11/22/alice-0123456789abcdef0.cast';
  await store.createSession(
    session({ id: 'alice-0123456789abcdef0', state: 'Connected', startedAt: Date.now(), recordingKey: key }),
  );
  await store.close();
  mkdirSync(join(dataDir, 'recordings/2026/11/22'), { recursive: true });
  const torn = '[0.75,"o","rm -r';
  writeFileSync(join(dataDir, key), `${HEADER}[0.5,"i","rm -rf /tmp/x\\r"]\n${torn}`);

  const second = await createServer(config, createLogger({ level: 'silent' }));
  try {
    const { events } = parseAsciicast(readFileSync(join(dataDir, key), 'utf8'));
    assert.deepEqual(events, [
      [0.5, 'i', 'rm -rf /tmp/x\r'],
      [0.5, 'm', 'session ended: the server restarted (it had stopped mid-session)'],
    ]);
    const row = await second.store.getSession('alice-0123456789abcdef0');
    assert.deepEqual([row?.state, row?.reason], ['Terminated', 'the server restarted']);
    const ended = (await second.store.listAudit({})).filter((e) => e.action === 'sesame:SessionEnded');
    assert.deepEqual(
      ended.map((e) => [e.resource, e.outcome, e.detail.recording]),
      [
        [
          'arn:aws:ssm:local:000000000000:session/alice-0123456789abcdef0',
          'failed',
          `sealed; a last line cut short (${torn.length} bytes) was dropped`,
        ],
      ],
    );
  } finally {
    await second.close();
  }
});
