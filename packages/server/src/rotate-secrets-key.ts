import { existsSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { serverArn } from './arn.ts';
import type { ServerConfig } from './config.ts';
import { SesameError } from './errors.ts';
import type { Logger } from './log.ts';
import { auditOnHost, onServerHost, openServerStore } from './open-server-store.ts';
import {
  keyIdOfFile,
  makeKeyFile,
  NEXT_SECRETS_KEY_FILE,
  parseSecretsKey,
  SECRETS_KEY_FILE,
} from './secrets-key.ts';
import { createSecretBox, type Rotated, SecretsKeyMismatchError } from './store/index.ts';
import { secretsKeyId } from './store/secret-box.ts';

export type Rotation = Rotated & { from: string; to: string; keySource: string };

/**
 * `sesame-server rotate-secrets-key`: seals every secret the database keeps again under a new key, in one
 * transaction, and the database takes the new key. The new key is SESAME_NEW_SECRETS_KEY, or, when the key in use is
 * the data directory's secrets.key, a random one written there: first as secrets.key.next (so a rotation cut short
 * after the database took it loses nothing, and the next start says so), then renamed over secrets.key. With the key
 * in SESAME_SECRETS_KEY, SESAME_NEW_SECRETS_KEY is needed, and every server then starts with it. Audited by `system`.
 * On SQLite the server must be stopped; on PostgreSQL stop every server first.
 */
export async function rotateSecretsKey(
  config: ServerConfig,
  log: Logger,
  newKeyText: string | undefined,
): Promise<Rotation> {
  const given = newKeyText === undefined ? undefined : parseSecretsKey(newKeyText);
  if (given !== undefined && !Buffer.isBuffer(given))
    throw new SesameError('INVALID', `SESAME_NEW_SECRETS_KEY ${given.problem}`);
  if (config.secretsKey !== undefined && given === undefined)
    throw new SesameError(
      'INVALID',
      'the key in use is SESAME_SECRETS_KEY: give the new key in SESAME_NEW_SECRETS_KEY (e.g. `openssl rand -base64 32`); afterwards every server starts with SESAME_SECRETS_KEY set to it',
    );
  const inFile = config.secretsKey === undefined;
  const nextPath = join(config.dataDir, NEXT_SECRETS_KEY_FILE);
  // The data directory is claimed whenever its key file changes: a server still running there (on PostgreSQL too)
  // would go on sealing with the old key.
  return onServerHost(config, log, { command: 'rotate-secrets-key', keyFile: true }, async () => {
    if (inFile && existsSync(nextPath))
      throw new SesameError(
        'INVALID',
        `${nextPath} is there from a rotation cut short: if the server starts with ${SECRETS_KEY_FILE}, remove it and run this again; if it is refused, move it to ${SECRETS_KEY_FILE} instead`,
      );
    const inUse = inFile
      ? await keyIdOfFile(config.dataDir)
      : secretsKeyId(parseSecretsKey(String(config.secretsKey)) as Buffer);
    if (inUse === undefined)
      throw new SesameError(
        'INVALID',
        `there is no secrets key to rotate: ${join(config.dataDir, SECRETS_KEY_FILE)} is missing (or holds no key) and SESAME_SECRETS_KEY is not set`,
      );
    if (given !== undefined && secretsKeyId(given) === inUse)
      throw new SesameError('INVALID', `the new key is the key in use (id ${inUse}): nothing to rotate`);
    const key = given;
    const nextText = inFile ? await makeKeyFile(nextPath, key) : undefined;
    if (nextText) await syncDirectory(config.dataDir); // its name on disk before the database takes the key
    const to = createSecretBox(nextText ? (parseSecretsKey(nextText) as Buffer) : (key as Buffer));
    let rotated: Rotated | undefined;
    let opened: Awaited<ReturnType<typeof openServerStore>>;
    try {
      opened = await openServerStore(config, {
        createKey: false,
        rotate: {
          to,
          done: (what) => {
            rotated = what;
          },
        },
      });
    } catch (error) {
      if (nextText) await settleFailedRotation(config, nextPath, to.keyId, error);
      throw error;
    }
    const { store, secrets } = opened;
    try {
      if (nextText) await replaceKeyFile(config.dataDir);
      const rotation: Rotation = {
        ...(rotated ?? { totpSecrets: 0, clientSecrets: 0, kept: 0 }),
        from: secrets.box.keyId,
        to: to.keyId,
        keySource: inFile ? join(config.dataDir, SECRETS_KEY_FILE) : 'SESAME_NEW_SECRETS_KEY',
      };
      await auditOnHost(store, log, {
        action: 'sesame:RotateSecretsKey',
        resource: serverArn(config.arn, 'secrets', 'key'),
        detail: rotation,
      });
      return rotation;
    } finally {
      await store.close();
    }
  });
}

/** secrets.key.next renamed over secrets.key, and the directory synced so that the rename survives a crash. */
async function replaceKeyFile(dataDir: string): Promise<void> {
  await rename(join(dataDir, NEXT_SECRETS_KEY_FILE), join(dataDir, SECRETS_KEY_FILE));
  await syncDirectory(dataDir);
}

async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * After a rotation failed: whether the database took the new key is read again, not assumed (on PostgreSQL the
 * commit may have happened before the failure, or its acknowledgement been lost). If it kept the key in use, the new
 * key file goes; otherwise, or if that cannot be told, it stays, and the error says what to do.
 */
async function settleFailedRotation(
  config: ServerConfig,
  nextPath: string,
  newKeyId: string,
  error: unknown,
): Promise<never> {
  let kept: boolean | undefined;
  try {
    const { store } = await openServerStore(config, { createKey: false });
    await store.close();
    kept = true;
  } catch (check) {
    if (check instanceof SesameError && check.cause instanceof SecretsKeyMismatchError)
      kept = check.cause.storedKeyId === newKeyId ? false : undefined;
  }
  const why = (error as Error).message;
  if (kept) {
    await rm(nextPath, { force: true });
    throw new SesameError('UNAVAILABLE', `the rotation failed and the database kept the key in use: ${why}`, {
      cause: error,
    });
  }
  const state =
    kept === false
      ? `the database took the new key before the failure: move ${nextPath} to ${join(config.dataDir, SECRETS_KEY_FILE)}`
      : `whether the database took the new key cannot be told now: ${nextPath} is kept; if the server starts, remove it, and if it is refused, move it to ${join(config.dataDir, SECRETS_KEY_FILE)}`;
  throw new SesameError('UNAVAILABLE', `the rotation failed (${why}); ${state}`, { cause: error });
}
