// openStore: picks the dialect from the config, connects, migrates to the latest schema and hands back the Store.
import { type Kysely, type MigrationProvider, Migrator, sql } from 'kysely';
import { createAccessSnapshotStore } from './access-snapshot-store.ts';
import { createActivationsStore } from './activations-store.ts';
import { createAssignmentsStore } from './assignments-store.ts';
import { createAuditStore } from './audit-store.ts';
import { createGroupsStore } from './groups-store.ts';
import { createInstancesStore } from './instances-store.ts';
import { createMfaDevicesStore } from './mfa-devices-store.ts';
import { createMigrationProvider, MigrationRefusal } from './migrations.ts';
import { createPermissionSetsStore } from './permission-sets-store.ts';
import { createPoliciesStore } from './policies-store.ts';
import { connectPostgres } from './postgres-connection.ts';
import type { StoreDatabase } from './schema.ts';
import {
  type ForgetRequest,
  prepareSealedColumns,
  type RotateRequest,
  rotateSealedColumns,
  type SealedAtOpen,
} from './sealed-columns.ts';
import type { SecretBox } from './secret-box.ts';
import { createSessionsStore } from './sessions-store.ts';
import { createSettingsStore } from './settings-store.ts';
import { createSignInStore } from './sign-in-store.ts';
import { connectSqlite } from './sqlite-connection.ts';
import type { StoreConnection, StoreQueryListener } from './store-connection.ts';
import {
  describeError,
  isUnavailable,
  SesameStoreError,
  toStoreError,
  withStoreErrors,
} from './store-error.ts';
import { createTokensStore } from './tokens-store.ts';
import type { Store } from './types.ts';
import { createUserTagsStore } from './user-tags-store.ts';
import { createUsersStore } from './users-store.ts';
import { writeTransaction } from './write-transaction.ts';

export type StoreConfig = {
  /** A postgres:// (or postgresql://) URL selects PostgreSQL; unset or empty selects SQLite at `sqlitePath`. */
  databaseUrl?: string | undefined;
  /** The SQLite database file (created with its directory if missing); `:memory:` for a throwaway database. */
  sqlitePath: string;
  /** Told when an idle PostgreSQL connection fails (the pool replaces it); by default such errors are dropped. */
  onPoolError?: ((error: Error) => void) | undefined;
  /** Told about every statement the store runs (SQL text and duration, never values): slow-query logs, tests. */
  onQuery?: StoreQueryListener | undefined;
  /** PostgreSQL: the time limit of a statement (default POSTGRES_QUERY_TIMEOUT_MS); tests set a short one. */
  queryTimeoutMs?: number | undefined;
  /** Seals and opens the secrets the store keeps (TOTP secrets, OIDC client secrets): the server's secrets key. */
  secrets: SecretBox;
  /** Told how many secrets stored in the clear (by a version before sealing) this open sealed. */
  onSealed?: ((sealed: SealedAtOpen) => void) | undefined;
  /**
   * Only for `sesame-server forget-secrets`: when the database's secrets were sealed with another key, remove them
   * (and tell this) instead of refusing the store.
   */
  forgetSecretsOfAnotherKey?: ForgetRequest | undefined;
  /** Only for `sesame-server rotate-secrets-key`: re-seal every secret under `to`, which the store then uses. */
  rotateSecretsTo?: RotateRequest | undefined;
};

export async function openStore(config: StoreConfig): Promise<Store> {
  const databaseUrl = config.databaseUrl?.trim();
  if (!databaseUrl) {
    const connection = connectSqlite(config.sqlitePath, { onQuery: config.onQuery });
    await migrated(connection, config);
    return createStore(connection, config.rotateSecretsTo?.to ?? config.secrets);
  }
  const connect = (queryTimeoutMs: number | undefined) =>
    connectPostgres(databaseUrl, {
      onPoolError: config.onPoolError,
      onQuery: config.onQuery,
      queryTimeoutMs,
    });
  // Migrations on a connection of their own, without the statements' time limit.
  const migrating = await connect(0);
  await migrated(migrating, config);
  await migrating.db.destroy();
  return createStore(await connect(config.queryTimeoutMs), config.rotateSecretsTo?.to ?? config.secrets);
}

/** Migrated to the latest schema, with the secrets key checked and every secret sealed (sealed-columns.ts). */
async function migrated(connection: StoreConnection, config: StoreConfig): Promise<void> {
  try {
    await migrate(connection);
    const sealed = await prepareSealedColumns(
      connection.db,
      connection.dialect,
      config.secrets,
      Date.now(),
      config.forgetSecretsOfAnotherKey,
    ).catch((error) => {
      throw toStoreError(error, 'opening the store (its sealed secrets)');
    });
    if (sealed.totpSecrets + sealed.clientSecrets > 0) config.onSealed?.(sealed);
    const rotate = config.rotateSecretsTo;
    if (rotate) {
      const { db, dialect } = connection;
      // The caller replaces the key file once this returns: the commit must be on disk by then (WAL with
      // synchronous=NORMAL syncs only at checkpoints).
      if (dialect === 'sqlite') await sql`pragma synchronous = FULL`.execute(db);
      rotate.done(
        await writeTransaction(db, dialect, (trx) =>
          rotateSealedColumns(trx, config.secrets, rotate.to, Date.now()),
        ),
      );
    }
  } catch (error) {
    await connection.db.destroy().catch(() => undefined);
    throw error;
  }
}

/**
 * SQLite: Kysely runs a migration there statement by statement (its SQLite adapter declares no transactional DDL
 * and takes no lock), so a migration cut short left a half-changed schema that every later start failed on, and
 * processes starting together on a new file ran the same migrations at once. Here the whole run is one
 * `BEGIN IMMEDIATE` transaction: it takes the write lock first (another process waits for it, up to the busy
 * timeout, then finds the work done), and a failure rolls all of it back.
 */
async function migrateSqlite(db: Kysely<StoreDatabase>, provider: MigrationProvider): Promise<unknown> {
  try {
    await writeTransaction(db, 'sqlite', async (connection) => {
      const { error } = await new Migrator({ db: connection, provider }).migrateToLatest();
      if (error !== undefined) throw error;
    });
    return undefined;
  } catch (error) {
    return error;
  }
}

/**
 * SQLite migration runs of this process, by file: a second store on the same file waits here, not in SQLite's
 * busy handler (which would block this process's event loop, and with it the run holding the lock).
 */
const sqliteRuns = new Map<string, Promise<unknown>>();

function serialized(target: string, run: () => Promise<unknown>): Promise<unknown> {
  const mine = (sqliteRuns.get(target) ?? Promise.resolve()).catch(() => {}).then(run);
  sqliteRuns.set(target, mine);
  return mine.finally(() => {
    if (sqliteRuns.get(target) === mine) sqliteRuns.delete(target);
  });
}

/** Brings the database to the latest schema (`provider`: the migrations, replaced only by tests). */
export async function migrate(
  { db, dialect, target }: StoreConnection,
  provider = createMigrationProvider(dialect),
): Promise<void> {
  let error: unknown;
  try {
    error =
      dialect === 'sqlite'
        ? await serialized(target, () => migrateSqlite(db, provider))
        : (await new Migrator({ db, provider }).migrateToLatest()).error;
  } catch (thrown) {
    error = thrown;
  }
  if (error === undefined) return;
  const kind = dialect === 'postgres' ? 'PostgreSQL' : 'SQLite';
  const hint =
    error instanceof MigrationRefusal
      ? ''
      : '; if a newer version of Sesame has used this database, run that version';
  throw new SesameStoreError(
    isUnavailable(error) ? 'UNAVAILABLE' : 'INTERNAL',
    `cannot bring the ${kind} database at ${target} up to the current schema: ${describeError(error)}${hint}`,
    { cause: error },
  );
}

function createStore({ db, dialect }: StoreConnection, secrets: SecretBox): Store {
  let closing: Promise<void> | undefined;
  return withStoreErrors<Store>({
    dialect,
    ...createUsersStore(db, dialect),
    ...createTokensStore(db),
    ...createActivationsStore(db),
    ...createInstancesStore(db, dialect),
    ...createSessionsStore(db),
    ...createAuditStore(db),
    ...createUserTagsStore(db),
    ...createGroupsStore(db),
    ...createPoliciesStore(db),
    ...createPermissionSetsStore(db),
    ...createAssignmentsStore(db),
    ...createAccessSnapshotStore(db),
    ...createSignInStore(db),
    ...createMfaDevicesStore(db, secrets),
    ...createSettingsStore(db, secrets),
    close() {
      closing ??= db.destroy();
      return closing;
    },
  });
}
