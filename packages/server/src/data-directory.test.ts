import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { claimDataDirectory } from './data-directory.ts';
import type { Logger } from './log.ts';

let root = '';
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sesame-data-dir-'));
});
after(() => rm(root, { recursive: true, force: true }));

const warnings: string[] = [];
const log = {
  warn: (_: unknown, message: string) => warnings.push(message),
  error: () => {},
} as unknown as Logger;
const mode = async (path: string) => (await stat(path)).mode & 0o777;

test('a new data directory is made private (700)', async () => {
  const dir = join(root, 'new', 'data');
  const release = await claimDataDirectory(dir, log);
  assert.equal(await mode(dir), 0o700);
  release();
});

test("Sesame's own directory left open to others (an older npm start) is made private, and said so", async () => {
  const dir = join(root, 'older');
  await mkdir(join(dir, 'recordings'), { recursive: true });
  await writeFile(join(dir, 'sesame.db'), '');
  await writeFile(join(dir, 'server.log'), '');
  await chmod(dir, 0o755);
  const release = await claimDataDirectory(dir, log);
  assert.equal(await mode(dir), 0o700);
  assert.ok(
    warnings.some((w) => /was open to other users/.test(w)),
    warnings.join('; '),
  );
  release();
});

test('a directory open to others that holds anything else is refused, and left as it was', async () => {
  const dir = join(root, 'shared');
  await mkdir(dir);
  await writeFile(join(dir, 'notes.txt'), 'not Sesame');
  await chmod(dir, 0o755);
  await assert.rejects(claimDataDirectory(dir, log), (error: Error) => {
    assert.match(error.message, /data directory .*shared is open to other users \(mode 755\).*chmod 700/);
    return true;
  });
  assert.equal(await mode(dir), 0o755);
});

test('a second server on the same directory is refused until the first lets go', async () => {
  const dir = join(root, 'busy');
  const release = await claimDataDirectory(dir, log);
  await assert.rejects(claimDataDirectory(dir, log), (error: Error) => {
    assert.match(error.message, /another Sesame server is using the data directory .*busy: stop it first/);
    return true;
  });
  release();
  const again = await claimDataDirectory(dir, log);
  again();
});

test('a server that is stopped (SIGSTOP) still holds the directory; one killed lets it go at once', async () => {
  const dir = join(root, 'held-by-child');
  const module = fileURLToPath(new URL('./data-directory.ts', import.meta.url));
  const script = `import { claimDataDirectory } from ${JSON.stringify(module)};
await claimDataDirectory(process.argv[1], { warn() {}, error() {} });
process.stdout.write('held\\n');
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.kill('SIGSTOP');
    await assert.rejects(claimDataDirectory(dir, log), /another Sesame server is using the data directory/);
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await gone;
    const release = await claimDataDirectory(dir, log);
    release();
  } finally {
    child.kill('SIGKILL');
  }
});
