// The server's store as the server and the commands run on its host (`recover`, `forget-secrets`,
// `rotate-secrets-key`) open it: with the server's secrets key.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { createAudit } from './audit.ts';
import type { ServerConfig } from './config.ts';
import { claimDataDirectory } from './data-directory.ts';
import { SesameError } from './errors.ts';
import type { Logger } from './log.ts';
import {
  keyIdOfFile,
  loadSecretsKey,
  NEXT_SECRETS_KEY_FILE,
  SECRETS_KEY_FILE,
  type SecretsKey,
} from './secrets-key.ts';
import {
  type ForgetRequest,
  openStore,
  type RotateRequest,
  type SealedAtOpen,
  SecretsKeyMismatchError,
  type Store,
} from './store/index.ts';
import { SYSTEM_PRINCIPAL } from './system-principal.ts';

export type ServerStoreOptions = {
  /** Make the data directory's key file when there is none (and no SESAME_SECRETS_KEY). */
  createKey: boolean;
  onSealed?: (sealed: SealedAtOpen) => void;
  /** `forget-secrets`: remove what the lost key (by id) sealed instead of refusing. */
  forget?: ForgetRequest;
  /** `rotate-secrets-key`: re-seal every secret under a new key. */
  rotate?: RotateRequest;
};

/**
 * Opens the configured store with the secrets key. A key file made for this open, by a start the database then
 * refused (its secrets were sealed with another key: the file was lost), is removed again, and the refusal says so.
 */
export async function openServerStore(
  config: ServerConfig,
  options: ServerStoreOptions,
): Promise<{ store: Store; secrets: SecretsKey }> {
  const secrets = await loadSecretsKey({
    configured: config.secretsKey,
    dataDir: config.dataDir,
    create: options.createKey,
  });
  try {
    const store = await openStore({
      databaseUrl: config.databaseUrl,
      sqlitePath: join(config.dataDir, 'sesame.db'),
      secrets: secrets.box,
      onSealed: options.onSealed,
      forgetSecretsOfAnotherKey: options.forget,
      rotateSecretsTo: options.rotate,
    });
    return { store, secrets };
  } catch (error) {
    if (!(error instanceof SecretsKeyMismatchError)) throw error;
    const next = await keyIdOfFile(config.dataDir, NEXT_SECRETS_KEY_FILE).catch(() => undefined);
    if (next !== undefined && next === error.storedKeyId) {
      if (secrets.made) await rm(secrets.source, { force: true });
      const path = join(config.dataDir, NEXT_SECRETS_KEY_FILE);
      throw new SesameError(
        'INVALID',
        `a key rotation was cut short after the database took the new key, which is ${path}: move it to ${join(config.dataDir, SECRETS_KEY_FILE)} (mv ${path} ${join(config.dataDir, SECRETS_KEY_FILE)}) and start again`,
        { cause: error },
      );
    }
    if (!secrets.made) throw error;
    await rm(secrets.source, { force: true });
    // On PostgreSQL the key is most likely not lost but with the servers that share the database.
    const problem = config.databaseUrl
      ? `this server has no SESAME_SECRETS_KEY and no ${secrets.source} (the key made for this start is removed again), and the PostgreSQL database's secrets were sealed with another key: servers that share a database need the same key, so set SESAME_SECRETS_KEY to the one the others use (the secrets.key of the data directory the database was first used with). In full: ${error.message}`
      : `${secrets.source} is missing (the key made for this start is removed again), and ${error.message}`;
    throw new SesameError('INVALID', problem, { cause: error });
  }
}

/**
 * Runs `run` as a command on the server's host with the server's own settings (recover, forget-secrets,
 * rotate-secrets-key). On SQLite the database must be there (a command run with other settings creates none) and
 * the data directory is claimed, so the server must be stopped; on PostgreSQL too when `keyFile` is set and the key
 * is the data directory's secrets.key, which the command may change under a server still running there.
 */
export async function onServerHost<T>(
  config: ServerConfig,
  log: Logger,
  { command, keyFile }: { command: string; keyFile: boolean },
  run: () => Promise<T>,
): Promise<T> {
  const sqlitePath = join(config.dataDir, 'sesame.db');
  if (!config.databaseUrl && !existsSync(sqlitePath))
    throw new SesameError(
      'NOT_FOUND',
      `there is no Sesame database at ${sqlitePath}: run ${command} with the server's own settings (SESAME_CONFIG, SESAME_DATA_DIR, SESAME_DATABASE_URL)`,
    );
  const claim = !config.databaseUrl || (keyFile && config.secretsKey === undefined);
  const release = claim ? await claimDataDirectory(config.dataDir, log) : () => {};
  try {
    return await run();
  } finally {
    release();
  }
}

/** The audit event of such a command: by `system`, naming the host and the operating-system user who ran it. */
export function auditOnHost(
  store: Store,
  log: Logger,
  event: { action: string; resource: string; detail: Record<string, unknown> },
): Promise<boolean> {
  return createAudit({ store, log })({
    actor: SYSTEM_PRINCIPAL,
    outcome: 'succeeded',
    ...event,
    detail: { ...event.detail, host: hostname(), osUser: userInfo().username },
  });
}
