import { chmod, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { lock } from 'proper-lockfile';
import { SesameError } from './errors.ts';
import type { Logger } from './log.ts';

/** Lock staleness (proper-lockfile keeps the lock's mtime fresh at half this): how long a crashed server's holds. */
const LOCK_STALE_MS = 10_000;

/**
 * Makes `dir` the server's own: private to its owner (it holds the database, with password hashes and MFA
 * secrets, and every recording) and used by this server alone (a second server on it would end the first one's
 * live sessions as left over from a crash). Resolves with the function that releases the lock.
 *
 * A directory open to others is made private when it is Sesame's (empty, or holding only what Sesame and `npm start`
 * put there: an `npm start` before this check made ./.sesame 0755); any other is refused, since changing the mode of a
 * directory chosen by mistake (a shared one) could break what else uses it.
 */
export async function claimDataDirectory(
  dir: string,
  log: Logger,
  { lockRetries = 7 } = {},
): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await stat(dir);
  if ((info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8);
    const entries = await readdir(dir);
    const sesames = entries.every((name) =>
      /^(sesame\.db(-wal|-shm|-journal)?|recordings|server\.lock|server\.log|local-agent(\.log)?)$/.test(
        name,
      ),
    );
    if (!sesames || (process.getuid && info.uid !== process.getuid()))
      throw new SesameError(
        'INVALID',
        `the data directory ${dir} is open to other users (mode ${mode}) and holds more than Sesame's data: it will hold the database and the recordings, so run \`chmod 700 ${dir}\` or give Sesame a directory of its own (SESAME_DATA_DIR)`,
      );
    await chmod(dir, 0o700);
    log.warn({ dataDir: dir, mode }, 'the data directory was open to other users: it is now private (700)');
  }
  try {
    return await lock(dir, {
      lockfilePath: join(dir, 'server.lock'),
      stale: LOCK_STALE_MS,
      // A server killed a moment ago (kill -9, a crash) leaves its lock until it is stale: wait that long for it.
      retries: { retries: lockRetries, factor: 1.5, minTimeout: 500, maxTimeout: 4000 },
      onCompromised: (error) =>
        log.error(
          { err: error, dataDir: dir },
          'the data directory lock was lost (another server may take it)',
        ),
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
    throw new SesameError(
      'UNAVAILABLE',
      `another Sesame server is using the data directory ${dir}: stop it first, or give this one a directory of its own (SESAME_DATA_DIR)`,
    );
  }
}
