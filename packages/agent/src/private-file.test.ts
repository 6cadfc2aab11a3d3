import assert from 'node:assert/strict';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writePrivateFile } from './private-file.ts';

const root = await mkdtemp(join(tmpdir(), 'sesame-private-'));
after(() => rm(root, { recursive: true, force: true }));

test('a secret file is 0600 in a 0700 directory, with no temporary file left', async () => {
  const path = join(root, 'new', 'nested', 'credentials.json');
  await writePrivateFile(path, 'one');
  await writePrivateFile(path, 'two');
  assert.equal(await readFile(path, 'utf8'), 'two');
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.equal((await stat(join(root, 'new', 'nested'))).mode & 0o777, 0o700);
  assert.deepEqual(await readdir(join(root, 'new', 'nested')), ['credentials.json']);
});

test('an existing directory keeps its permissions (it may be /etc); one others may write to is refused', async () => {
  const dir = join(root, 'shared');
  await mkdir(dir);
  await chmod(dir, 0o755);
  await writePrivateFile(join(dir, 'identity.json'), '{}');
  assert.equal((await stat(dir)).mode & 0o777, 0o755, 'left readable by others: the file itself is 0600');
  assert.equal((await stat(join(dir, 'identity.json'))).mode & 0o777, 0o600);
  for (const [mode, who] of [
    [0o775, 'its group'],
    [0o777, 'every user'],
    [0o1777, 'every user'],
  ] as const) {
    const open = join(root, `open-${mode.toString(8)}`);
    await mkdir(open);
    await chmod(open, mode);
    await assert.rejects(
      writePrivateFile(join(open, 'identity.json'), '{}'),
      new RegExp(`can be written by ${who}, who could replace what is kept there: .*chmod go-w`),
    );
    assert.deepEqual(await readdir(open), [], 'nothing written');
    assert.equal((await stat(open)).mode & 0o7777, mode, 'and its permissions untouched');
  }
});

test('a directory of another user is refused, even through a symlink, and nothing is written there', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root, to give a directory to another user');
  const theirs = join(root, 'theirs');
  await mkdir(theirs, { mode: 0o777 });
  await chown(theirs, 65534, 65534);
  const link = join(root, 'link-to-theirs');
  await symlink(theirs, link);
  for (const dir of [theirs, link])
    await assert.rejects(
      writePrivateFile(join(dir, 'credentials.json'), 'secret'),
      /belongs to another user \(uid 65534\)/,
    );
  assert.deepEqual(await readdir(theirs), []);
});

test('a symlink to a directory of ours is followed (a dotfiles manager may link the config directory)', async () => {
  const mine = join(root, 'mine');
  await mkdir(mine);
  await symlink(mine, join(root, 'link-to-mine'));
  await writePrivateFile(join(root, 'link-to-mine', 'credentials.json'), 'ok');
  assert.equal(await readFile(join(mine, 'credentials.json'), 'utf8'), 'ok');
});
