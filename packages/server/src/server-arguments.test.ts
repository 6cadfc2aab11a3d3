import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

const bin = join(import.meta.dirname, '../bin/sesame-server.js');
const cwd = mkdtempSync(join(tmpdir(), 'sesame-server-args-'));
after(() => rmSync(cwd, { recursive: true, force: true }));
const run = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, SESAME_PORT: '0' },
  });

test('sesame-server --help explains and starts nothing; an unknown argument is refused (2)', () => {
  const help = run('--help');
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: sesame-server\n/);
  assert.match(help.stdout, /SESAME_CONFIG/);
  const unknown = run('--port', '9000');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /^sesame-server: unknown argument "--port"\n\nUsage: sesame-server/);
  assert.equal(existsSync(join(cwd, '.sesame')), false, 'no data directory, no administrator made');
});
