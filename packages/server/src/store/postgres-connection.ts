// The scale-out store: PostgreSQL through a pg Pool. Messages name host and port, never the password.
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { StoreDatabase } from './schema.ts';
import { queryLog, type StoreConnection, type StoreQueryListener } from './store-connection.ts';
import { describeError, SesameStoreError } from './store-error.ts';

export const POSTGRES_CONNECT_TIMEOUT_MS = 10_000;
/**
 * A statement PostgreSQL has not finished in this time is cancelled there (`statement_timeout`, which also frees
 * its locks), and one it has not answered 2 s after that is given up here (pg's `query_timeout`: a server that
 * hangs, or a network that drops packets). Without them a hung database held every request, a session's end and
 * a shutdown forever. Migrations run without them (a schema change on a large table may take longer).
 */
export const POSTGRES_QUERY_TIMEOUT_MS = 30_000;
const ANSWER_GRACE_MS = 2_000;
/** Idle time after which TCP keepalive probes a pooled connection, so one whose peer vanished is noticed. */
const KEEPALIVE_DELAY_MS = 10_000;
/** pg's message for a query it stopped waiting for. */
const READ_TIMEOUT = 'Query read timeout';
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
  /** The time limit of a statement (default POSTGRES_QUERY_TIMEOUT_MS); 0 for none (migrations). */
  queryTimeoutMs?: number | undefined;
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
  const queryTimeoutMs = options.queryTimeoutMs ?? POSTGRES_QUERY_TIMEOUT_MS;
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
    ...(queryTimeoutMs > 0
      ? { statement_timeout: queryTimeoutMs, query_timeout: queryTimeoutMs + ANSWER_GRACE_MS }
      : {}),
    types: { getTypeParser },
  });
  // An idle client losing its connection emits 'error' on the pool; unhandled, that would end the process.
  // The pool drops the client itself and the next query reports the problem.
  pool.on('error', (error) => options.onPoolError?.(error));
  pool.on('connect', dropOnReadTimeout);
  const db = new Kysely<StoreDatabase>({
    dialect: new PostgresDialect({ pool }),
    log: queryLog(options.onQuery),
  });
  try {
    // Through Kysely, so its driver is initialized: destroying one never used leaves the pool open.
    await sql`select 1`.execute(db);
  } catch (error) {
    await db.destroy().catch(() => undefined);
    const reason = redact(describeError(error), url);
    throw new SesameStoreError(
      'UNAVAILABLE',
      `cannot connect to PostgreSQL at ${target}: ${reason}; check the database URL and that the server is running and accepts connections`,
      { cause: error },
    );
  }
  return { dialect: 'postgres', db, target };
}

/**
 * pg's query_timeout rejects the query but leaves the connection waiting for its answer, and the pool would hand
 * that connection out again: every later query on it timed out as well, long after the database was back. A
 * client whose query timed out drops its connection, so the pool replaces it.
 */
function dropOnReadTimeout(client: pg.PoolClient): void {
  // pg's own fields (pg-pool reads _queryable too: a client that is not queryable is removed when released).
  const internals = client as unknown as {
    query: (...args: unknown[]) => unknown;
    _queryable: boolean;
    connection: { stream: { destroy(): void } };
  };
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  // The dropped connection's error comes while the client may still be checked out, where nothing listens.
  client.on('error', () => {});
  internals.query = (...args) => {
    const answer = query(...args);
    // Registered before the caller's own handlers: the client is marked before it is released to the pool.
    if (answer instanceof Promise)
      answer.catch((error: unknown) => {
        if ((error as Error | null)?.message !== READ_TIMEOUT) return;
        internals._queryable = false;
        internals.connection.stream.destroy();
      });
    return answer;
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
