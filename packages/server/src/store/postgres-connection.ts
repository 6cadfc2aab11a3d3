// The scale-out store: PostgreSQL through a pg Pool. Messages name host and port, never the password.
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { StoreDatabase } from './schema.ts';
import { queryLog, type StoreConnection, type StoreQueryListener } from './store-connection.ts';
import { describeError, SesameStoreError } from './store-error.ts';

export const POSTGRES_CONNECT_TIMEOUT_MS = 10_000;
const POSTGRES_SCHEMES = new Set(['postgres:', 'postgresql:']);
const URL_HINT = 'expected postgres://user:password@host:5432/database';

export function isPostgresUrl(url: string): boolean {
  return POSTGRES_SCHEMES.has(url.slice(0, url.indexOf(':') + 1).toLowerCase());
}

// int8 (bigint: epoch-ms times, the audit seq, counts) comes back as a JS number instead of a string. Set on
// this pool only, not through pg's process-wide type registry.
const parseInt8 = (text: string): number => Number(text);
const getTypeParser = ((oid: number, format?: 'text' | 'binary') =>
  oid === pg.types.builtins.INT8 && format !== 'binary'
    ? parseInt8
    : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser;

export type PostgresOptions = {
  onPoolError?: ((error: Error) => void) | undefined;
  onQuery?: StoreQueryListener | undefined;
};

/** Connects to PostgreSQL at `databaseUrl` and proves the connection works before returning. */
export async function connectPostgres(
  databaseUrl: string,
  options: PostgresOptions = {},
): Promise<StoreConnection> {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new SesameStoreError('UNAVAILABLE', `the database URL is not a valid URL; ${URL_HINT}`);
  }
  if (!POSTGRES_SCHEMES.has(url.protocol.toLowerCase())) {
    throw new SesameStoreError(
      'UNAVAILABLE',
      `unsupported database URL scheme "${url.protocol}"; ${URL_HINT}, or leave the database URL unset to use the embedded SQLite database`,
    );
  }
  const target = describeTarget(url);
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS,
    types: { getTypeParser },
  });
  // An idle client losing its connection emits 'error' on the pool; unhandled, that would end the process.
  // The pool drops the client itself and the next query reports the problem.
  pool.on('error', (error) => options.onPoolError?.(error));
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => undefined);
    const reason = redact(describeError(error), url);
    throw new SesameStoreError(
      'UNAVAILABLE',
      `cannot connect to PostgreSQL at ${target}: ${reason}; check the database URL and that the server is running and accepts connections`,
      { cause: error },
    );
  }
  return {
    dialect: 'postgres',
    db: new Kysely<StoreDatabase>({ dialect: new PostgresDialect({ pool }), log: queryLog(options.onQuery) }),
    target,
  };
}

function describeTarget(url: URL): string {
  const host = url.hostname || url.searchParams.get('host') || 'localhost';
  return `${host}:${url.port || '5432'}`;
}

/** Belt and braces: drivers do not echo passwords, but nothing with the password in it leaves this file. */
export function redact(text: string, url: URL): string {
  if (!url.password) return text;
  let out = text;
  for (const secret of new Set([url.password, safeDecode(url.password)])) {
    if (secret) out = out.split(secret).join('***');
  }
  return out;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
