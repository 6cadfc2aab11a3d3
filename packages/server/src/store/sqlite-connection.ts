// The embedded default: one SQLite file under the data directory, opened through better-sqlite3.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { StoreDatabase } from './schema.ts';
import { queryLog, type StoreConnection, type StoreQueryListener } from './store-connection.ts';
import { describeError, SesameStoreError } from './store-error.ts';

/** How long a statement waits for another process's write lock before failing with SQLITE_BUSY. */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;

export type SqliteOptions = { onQuery?: StoreQueryListener | undefined };

/**
 * Puts the file in WAL mode (which it keeps). Switching takes the file for itself, and SQLite answers SQLITE_BUSY at
 * once, without waiting, when other processes open the same new file at that moment: so it tries again, for up to
 * SQLITE_BUSY_TIMEOUT_MS, and once one of them switched the others find WAL already on.
 */
function useWal(database: Database.Database): void {
  const deadline = Date.now() + SQLITE_BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      if (database.pragma('journal_mode', { simple: true }) !== 'wal') database.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw error;
      // Opening is synchronous (better-sqlite3): a short synchronous pause before the next try.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10 + Math.random() * 20);
    }
  }
}

/** Opens (creating if needed) the SQLite database at `path`; `:memory:` gives a throwaway in-memory database. */
export function connectSqlite(path: string, options: SqliteOptions = {}): StoreConnection {
  const inMemory = path === ':memory:';
  let database: Database.Database | undefined;
  try {
    if (!inMemory) mkdirSync(dirname(path), { recursive: true });
    database = new Database(path, { timeout: SQLITE_BUSY_TIMEOUT_MS });
    // WAL lets readers (e.g. another `sesame` process) read while the server writes; NORMAL sync is durable
    // across application crashes in WAL mode and much faster than FULL.
    if (!inMemory) useWal(database);
    database.pragma('synchronous = NORMAL');
    database.pragma('foreign_keys = ON');
    database.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  } catch (error) {
    database?.close();
    throw new SesameStoreError(
      'UNAVAILABLE',
      `cannot open the SQLite database at ${path}: ${describeError(error)}; check that the data directory exists, is writable, and that the file is a Sesame database`,
      { cause: error },
    );
  }
  return {
    dialect: 'sqlite',
    db: new Kysely<StoreDatabase>({
      dialect: new SqliteDialect({ database }),
      log: queryLog(options.onQuery),
    }),
    target: path,
  };
}
