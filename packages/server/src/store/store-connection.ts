import type { Kysely } from 'kysely';
import type { StoreDatabase } from './schema.ts';
import type { StoreDialect } from './types.ts';

/** An open database, either dialect. */
export type StoreConnection = {
  dialect: StoreDialect;
  db: Kysely<StoreDatabase>;
  /** Where the database is, for messages: a file path or host:port. Never contains a password. */
  target: string;
};
