import { join } from 'node:path';
import { serverArn } from './arn.ts';
import type { ServerConfig } from './config.ts';
import { SesameError } from './errors.ts';
import type { Logger } from './log.ts';
import { auditOnHost, onServerHost, openServerStore } from './open-server-store.ts';
import { keyIdOfFile, SECRETS_KEY_FILE } from './secrets-key.ts';
import type { Forgotten } from './store/index.ts';

const MAX_AUDITED_USERS = 1000;

export type ForgetResult = Forgotten & { keyId: string; keySource: string; forgot: boolean };

/**
 * `sesame-server forget-secrets --lost-key-id <id>`: the way out when the secrets key is lost. With the server's
 * settings and a new key (SESAME_SECRETS_KEY, or on SQLite a new secrets.key made in the data directory), it removes
 * every secret the lost key sealed, in one transaction: authenticator apps are deleted (their owners register one
 * again at their next sign-in, or by another factor), OIDC client secrets are dropped and their providers disabled
 * (an administrator gives the secret again and enables them). Then the database takes the new key. The lost key is
 * named by the id the refused start showed, so that a stray key cannot wipe secrets its own key still opens; and a
 * SESAME_SECRETS_KEY beside a data directory whose secrets.key is that lost key is refused. Audited by `system`
 * after the transaction (a crash in between leaves the deletions unaudited). On SQLite the server must be stopped;
 * on PostgreSQL stop every server first, and start them all with the new key.
 */
export async function forgetSecrets(
  config: ServerConfig,
  log: Logger,
  lostKeyId: string,
): Promise<ForgetResult> {
  return onServerHost(config, log, { command: 'forget-secrets', keyFile: true }, async () => {
    if (config.secretsKey !== undefined && (await keyIdOfFile(config.dataDir)) === lostKeyId)
      throw new SesameError(
        'INVALID',
        `the key with id ${lostKeyId} is not lost: it is ${join(config.dataDir, SECRETS_KEY_FILE)}. Start the server without SESAME_SECRETS_KEY (or with it set to that key); nothing needs forgetting`,
      );
    let forgotten: Forgotten | undefined;
    const { store, secrets } = await openServerStore(config, {
      createKey: !config.databaseUrl,
      forget: {
        lostKeyId,
        done: (what) => {
          forgotten = what;
        },
      },
    }).catch((error: unknown) => {
      if (error instanceof SesameError && /there is no secrets key/.test(error.message))
        throw new SesameError(
          'INVALID',
          "there is no secrets key to take the lost one's place: set SESAME_SECRETS_KEY to a new key (e.g. `openssl rand -base64 32`), then start every server with it",
        );
      throw error;
    });
    try {
      const result: ForgetResult = {
        totpDevices: forgotten?.totpDevices ?? 0,
        usersOfThem: forgotten?.usersOfThem ?? [],
        clientSecretsOf: forgotten?.clientSecretsOf ?? [],
        keptOfOtherKeys: forgotten?.keptOfOtherKeys ?? 0,
        forgot: forgotten !== undefined,
        keyId: secrets.box.keyId,
        keySource: secrets.source,
      };
      if (forgotten)
        await auditOnHost(store, log, {
          action: 'sesame:ForgetSecrets',
          resource: serverArn(config.arn, 'secrets', 'key'),
          detail: {
            ...forgotten,
            // Whose apps went, for the incident review; an audit row stays small however many there were.
            usersOfThem: forgotten.usersOfThem.slice(0, MAX_AUDITED_USERS),
            people: forgotten.usersOfThem.length,
            lostKeyId,
            keyId: secrets.box.keyId,
          },
        });
      return result;
    } finally {
      await store.close();
    }
  });
}
