import type { Kysely, LogEvent } from 'kysely';
import type { StoreDatabase } from './schema.ts';
import type { StoreDialect } from './types.ts';

/** An open database, either dialect. */
export type StoreConnection = {
  dialect: StoreDialect;
  db: Kysely<StoreDatabase>;
  /** Where the database is, for messages: a file path or host:port. Never contains a password. */
  target: string;
};

/** One statement the store ran (transaction control included): its SQL with placeholders, never the values. */
export type StoreQueryEvent = { sql: string; durationMs: number; failed: boolean };

export type StoreQueryListener = (event: StoreQueryEvent) => void;

/** Kysely's `log` option for a query listener; without one Kysely neither times nor reports anything. */
export function queryLog(onQuery: StoreQueryListener | undefined): ((event: LogEvent) => void) | undefined {
  if (!onQuery) return undefined;
  return (event) =>
    onQuery({ sql: event.query.sql, durationMs: event.queryDurationMillis, failed: event.level === 'error' });
}
