import { chmod, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SesameError } from './errors.ts';
import type { Logger } from './log.ts';

/**
 * Makes `dir` the server's own: private to its owner (it holds the database, with password hashes and MFA
 * secrets, and every recording) and used by this server alone (a second server on it would end the first one's
 * live sessions as left over from a crash). Resolves with the function that lets the directory go.
 *
 * A directory open to others is made private when it is Sesame's (empty, or holding only what Sesame and `npm start`
 * put there: an `npm start` before this check made ./.sesame 0755); any other is refused, since changing the mode of
 * a directory chosen by mistake (a shared one) could break what else uses it.
 *
 * The lock is SQLite's exclusive lock on `server.lock` (an OS file lock: fcntl, or LockFileEx on Windows), held for
 * the server's life: the operating system lets it go when the process ends however it ends, and a server that is
 * stopped (Ctrl-Z, SIGSTOP, a paused VM) still holds it, which a lock judged by its age would not.
 */
export async function claimDataDirectory(dir: string, log: Logger): Promise<() => void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await stat(dir);
  // Windows has no such mode bits (it reports 0o666 whatever the ACLs say).
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8);
    if (process.getuid && info.uid !== process.getuid())
      throw new SesameError(
        'INVALID',
        `the data directory ${dir} belongs to another user and is open to others (mode ${mode}): give Sesame a directory of its own (SESAME_DATA_DIR), owned by the user it runs as`,
      );
    const entries = await readdir(dir);
    if (!entries.every((name) => SESAMES.test(name)))
      throw new SesameError(
        'INVALID',
        `the data directory ${dir} is open to other users (mode ${mode}) and holds more than Sesame's data: it will hold the database and the recordings, so run \`chmod 700 ${dir}\` or give Sesame a directory of its own (SESAME_DATA_DIR)`,
      );
    await chmod(dir, 0o700);
    log.warn({ dataDir: dir, mode }, 'the data directory was open to other users: it is now private (700)');
  }
  const path = join(dir, 'server.lock');
  let lock: Database.Database | undefined;
  try {
    lock = new Database(path, { timeout: 0 });
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    lock?.close();
    if ((error as { code?: string }).code !== 'SQLITE_BUSY')
      throw new SesameError(
        'UNAVAILABLE',
        `cannot lock the data directory (${path}): ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    throw new SesameError(
      'UNAVAILABLE',
      `another Sesame server is using the data directory ${dir}: stop it first, or give this one a directory of its own (SESAME_DATA_DIR)`,
    );
  }
  // Kept reachable until let go: better-sqlite3 closes a database it garbage-collects, and the lock with it.
  const held = lock;
  locks.add(held);
  return () => {
    locks.delete(held);
    if (held.open) held.close();
  };
}

/** The data directory locks this process holds. */
const locks = new Set<Database.Database>();

/** What Sesame and `npm start` put in a data directory. */
const SESAMES =
  /^(sesame\.db(-wal|-shm|-journal)?|recordings|secrets\.key(\.next)?|server\.lock(-journal)?|server\.log|local-agent(\.log)?)$/;
