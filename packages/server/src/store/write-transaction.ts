import { type Kysely, sql } from 'kysely';
import type { StoreDatabase } from './schema.ts';
import type { StoreDialect } from './types.ts';

/**
 * A transaction that writes after it reads, safe against another process on the same database. On SQLite it is
 * `BEGIN IMMEDIATE`: a deferred transaction reads a snapshot first, and if another process writes before it
 * upgrades to a writer, SQLite refuses the upgrade at once ("database is locked", no busy wait); taking the write
 * lock first makes the other process wait its turn instead. PostgreSQL's row locks need nothing special.
 */
export async function writeTransaction<T>(
  db: Kysely<StoreDatabase>,
  dialect: StoreDialect,
  fn: (trx: Kysely<StoreDatabase>) => Promise<T>,
): Promise<T> {
  if (dialect === 'postgres') return db.transaction().execute(fn);
  return db.connection().execute(async (connection) => {
    await sql`begin immediate`.execute(connection);
    try {
      const result = await fn(connection);
      await sql`commit`.execute(connection);
      return result;
    } catch (error) {
      // SQLite may have rolled back by itself (an I/O error, a full disk): then the original error is the news.
      await sql`rollback`.execute(connection).catch(() => {});
      throw error;
    }
  });
}
