// Test support (not a test itself): the databases every store test runs against. SQLite always, in a temp
// directory; PostgreSQL at SESAME_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), in a
// fresh database `sesame_test_<random>` (ICU en-US collation where available) created for the test file and
// dropped after it. When PostgreSQL is not reachable its tests are reported as skipped, with the reason.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openStore, type StoreConfig } from './open-store.ts';
import { describeError } from './store-error.ts';
import { TEST_SECRETS } from './test-secrets.ts';
import type { Store, StoreDialect } from './types.ts';

export const POSTGRES_ADMIN_URL =
  process.env.SESAME_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

/** Settings a test may add to the store it opens. */
export type StoreTestOptions = Pick<StoreConfig, 'onQuery' | 'queryTimeoutMs'>;
/** Settings a test may give a store it reopens: another secrets key, a listener for what the open sealed. */
export type ReopenOptions = Partial<
  Pick<StoreConfig, 'secrets' | 'onSealed' | 'forgetSecretsOfAnotherKey' | 'rotateSecretsTo'>
>;

export type StoreTarget = {
  dialect: StoreDialect;
  /** false, or why this dialect's tests are skipped. */
  skip: string | false;
  /** A store on an empty database (previous contents removed). */
  fresh(options?: StoreTestOptions): Promise<Store>;
  /** Another store on the same database as the last fresh() (e.g. a second replica, or a restart). */
  reopen(options?: ReopenOptions): Promise<Store>;
  /** Runs one statement on that database directly (`?` for each parameter), as a person with its file or URL could. */
  sql(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Removes the temp directory / drops the test database. */
  dispose(): Promise<void>;
  /** PostgreSQL: the URL of the test database. */
  databaseUrl?: string;
};

export async function storeTargets(): Promise<StoreTarget[]> {
  return [await sqliteTarget(), await postgresTarget()];
}

async function sqliteTarget(): Promise<StoreTarget> {
  const dir = await mkdtemp(join(tmpdir(), 'sesame-store-'));
  let count = 0;
  let path = join(dir, 'unused.db');
  return {
    dialect: 'sqlite',
    skip: false,
    async fresh(options = {}) {
      count += 1;
      path = join(dir, `data-${count}`, 'sesame.db');
      return openStore({ secrets: TEST_SECRETS, ...options, sqlitePath: path });
    },
    reopen: (reopening = {}) => openStore({ secrets: TEST_SECRETS, sqlitePath: path, ...reopening }),
    async sql(text, params = []) {
      const db = new Database(path);
      try {
        const statement = db.prepare(text);
        if (statement.reader) return statement.all(...params) as Record<string, unknown>[];
        statement.run(...params);
        return [];
      } finally {
        db.close();
      }
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

async function postgresTarget(): Promise<StoreTarget> {
  const admin = new URL(POSTGRES_ADMIN_URL);
  const where = `${admin.hostname}:${admin.port || '5432'}`;
  const database = `sesame_test_${randomBytes(6).toString('hex')}`;
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${database}`;
  const databaseUrl = url.toString();
  try {
    // A natural-language collation where the server has ICU (PostgreSQL 15+), as a production database may have:
    // text the store sorts or pages by must say collate "C" itself, or these tests see it out of byte order.
    await withClient(POSTGRES_ADMIN_URL, (client) =>
      client
        .query(
          `create database ${database} template template0 locale_provider icu icu_locale 'en-US' locale 'C.UTF-8'`,
        )
        .catch(() => client.query(`create database ${database}`)),
    );
  } catch (error) {
    const skip = `PostgreSQL not reachable at ${where}: ${describeError(error)}`;
    const skipped = () => Promise.reject(new Error(skip));
    return {
      dialect: 'postgres',
      skip,
      fresh: skipped,
      reopen: skipped,
      sql: skipped,
      dispose: async () => {},
    };
  }
  return {
    dialect: 'postgres',
    skip: false,
    databaseUrl,
    async fresh(options = {}) {
      await withClient(databaseUrl, async (client) => {
        const { rows } = await client.query<{ tablename: string }>(
          "select tablename from pg_tables where schemaname = 'public' and tablename not like 'kysely%'",
        );
        if (rows.length === 0) return;
        const tables = rows.map((row) => `"${row.tablename}"`).join(', ');
        await client.query(`truncate ${tables} restart identity cascade`);
      });
      return openStore({ secrets: TEST_SECRETS, ...options, databaseUrl, sqlitePath: ':memory:' });
    },
    reopen: (reopening = {}) =>
      openStore({ secrets: TEST_SECRETS, databaseUrl, sqlitePath: ':memory:', ...reopening }),
    sql(text, params = []) {
      let n = 0;
      const numbered = text.replace(/\?/g, () => `$${++n}`);
      return withClient(databaseUrl, async (client) => (await client.query(numbered, params)).rows);
    },
    dispose: async () => {
      await withClient(POSTGRES_ADMIN_URL, (client) =>
        client.query(`drop database if exists ${database} with (force)`),
      );
    },
  };
}

async function withClient<T>(connectionString: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
