import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Makes `dir` (and its parents) 0700, or checks the one that exists. An existing directory keeps its permissions:
 * it may be /etc or /var/lib, which root must not close to everyone else (the file itself is 0600). One (or the
 * one a symlink leads to) that belongs to another user, or that others may write to, is refused: they could
 * read or replace what is written there.
 */
export async function privateDirectory(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await stat(dir);
  if (!info.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (typeof process.getuid === 'function' && info.uid !== process.getuid())
    throw new Error(`${dir} belongs to another user (uid ${info.uid}): use a directory of your own`);
  if (created === undefined && (info.mode & 0o022) !== 0)
    throw new Error(
      `${dir} can be written by ${info.mode & 0o002 ? 'every user' : 'its group'}, who could replace what is kept there: use a directory only you can write to, or run \`chmod go-w ${dir}\``,
    );
}

/**
 * Writes a secret file: mode 0600 in a private directory (see privateDirectory), through a temporary file with
 * a random name that must not exist yet (never following a planted symlink), flushed to disk before it is renamed
 * over `path`, so a reader or a crash never leaves half a file.
 */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  await privateDirectory(dirname(path));
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temporary, path);
  await syncDirectory(dirname(path));
}

/** Flushes a directory's entries (a file just linked or renamed there) to disk, so a crash does not undo them. */
export async function syncDirectory(dir: string): Promise<void> {
  const directory = await open(dir, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
