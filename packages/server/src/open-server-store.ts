// The server's store as the server, `recover` and `forget-secrets` open it: with the server's secrets key.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerConfig } from './config.ts';
import { SesameError } from './errors.ts';
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
