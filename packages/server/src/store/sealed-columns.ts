// Where the store keeps sealed secrets (secret-box.ts), what each is bound to, and what a store does when it opens:
// refuse a secrets key other than the one the database was sealed with, then seal what an older version stored in
// the clear.
import type { Kysely } from 'kysely';
import { parseObject, toJson } from './json-columns.ts';
import type { StoreDatabase } from './schema.ts';
import { isSealed, type SecretBox, SecretBoxError } from './secret-box.ts';
import { isUniqueViolation, SesameStoreError } from './store-error.ts';

/** What each sealed value is bound to: a sealed value copied to another row or column does not open there. */
export const sealedAt = {
  totpSecret: (deviceId: string) => `mfa_devices.secret of device ${deviceId}`,
  clientSecret: (providerId: string) => `identity_providers.config.clientSecret of provider ${providerId}`,
  keyCheck: 'settings.secretsKeyCheck',
};

const KEY_CHECK_SETTING = 'secretsKeyCheck';
const KEY_CHECK_TEXT = 'sesame secrets key check';

/** `value` opened for `context`; a value that does not open is a DAMAGED store error that says which and why. */
export function openSealed(secrets: SecretBox, value: string, context: string): string {
  try {
    return secrets.open(value, context);
  } catch (error) {
    if (!(error instanceof SecretBoxError)) throw error;
    throw new SesameStoreError('DAMAGED', error.message, { cause: error });
  }
}

/** An identity provider's config as stored: its clientSecret, if any, sealed. */
export function sealProviderConfig(
  secrets: SecretBox,
  providerId: string,
  config: Record<string, unknown>,
): Record<string, unknown> {
  const secret = config.clientSecret;
  if (typeof secret !== 'string') return config;
  return { ...config, clientSecret: secrets.seal(secret, sealedAt.clientSecret(providerId)) };
}

/** An identity provider's config as read: its clientSecret opened. */
export function openProviderConfig(
  secrets: SecretBox,
  providerId: string,
  config: Record<string, unknown>,
): Record<string, unknown> {
  const secret = config.clientSecret;
  if (typeof secret !== 'string') return config;
  return { ...config, clientSecret: openSealed(secrets, secret, sealedAt.clientSecret(providerId)) };
}

export type SealedAtOpen = { totpSecrets: number; clientSecrets: number };

/**
 * Run when a store opens, after the migrations. The first store on a database leaves a check value sealed with its
 * key; a later one whose key does not open it is refused before it reads or writes anything sealed (it could not
 * open the secrets there, and would seal new ones that the other servers could not). Then every secret still in the
 * clear (written by a version before sealing) is sealed; each row is replaced only if it is unchanged.
 */
export async function prepareSealedColumns(
  db: Kysely<StoreDatabase>,
  secrets: SecretBox,
  now: number,
): Promise<SealedAtOpen> {
  await checkSecretsKey(db, secrets, now);
  const sealed: SealedAtOpen = { totpSecrets: 0, clientSecrets: 0 };
  const devices = await db
    .selectFrom('mfa_devices')
    .select(['id', 'secret'])
    .where('secret', 'is not', null)
    .execute();
  for (const { id, secret } of devices) {
    if (secret === null || isSealed(secret)) continue;
    const result = await db
      .updateTable('mfa_devices')
      .set({ secret: secrets.seal(secret, sealedAt.totpSecret(id)) })
      .where('id', '=', id)
      .where('secret', '=', secret)
      .executeTakeFirst();
    sealed.totpSecrets += Number(result.numUpdatedRows);
  }
  const providers = await db.selectFrom('identity_providers').select(['id', 'config']).execute();
  for (const { id, config } of providers) {
    const parsed = parseObject(config, 'identity_providers.config');
    if (typeof parsed.clientSecret !== 'string' || isSealed(parsed.clientSecret)) continue;
    const stored = sealProviderConfig(secrets, id, parsed);
    const result = await db
      .updateTable('identity_providers')
      .set({ config: toJson(stored) })
      .where('id', '=', id)
      .where('config', '=', config)
      .executeTakeFirst();
    sealed.clientSecrets += Number(result.numUpdatedRows);
  }
  return sealed;
}

async function checkSecretsKey(db: Kysely<StoreDatabase>, secrets: SecretBox, now: number): Promise<void> {
  const read = () =>
    db.selectFrom('settings').select('value').where('key', '=', KEY_CHECK_SETTING).executeTakeFirst();
  let row = await read();
  if (!row) {
    const value = toJson(secrets.seal(KEY_CHECK_TEXT, sealedAt.keyCheck));
    try {
      await db.insertInto('settings').values({ key: KEY_CHECK_SETTING, value, updated_at: now }).execute();
    } catch (error) {
      if (!isUniqueViolation(error)) throw error; // another server wrote its check first: it is read below
    }
    row = await read();
  }
  let stored: unknown;
  try {
    stored = JSON.parse(row?.value ?? 'null');
  } catch {
    stored = null;
  }
  const mismatch = (why: string) =>
    new SesameStoreError(
      'CONFLICT',
      `this database's secrets (TOTP secrets, OIDC client secrets) were sealed with another secrets key: ${why}. Start the server with the key they were sealed with (SESAME_SECRETS_KEY, or the secrets.key file of the data directory the database was first used with)`,
    );
  if (typeof stored !== 'string')
    throw mismatch(`its check value (settings ${KEY_CHECK_SETTING}) is damaged`);
  try {
    if (secrets.open(stored, sealedAt.keyCheck) === KEY_CHECK_TEXT) return;
  } catch (error) {
    if (!(error instanceof SecretBoxError)) throw error;
    throw mismatch(error.message);
  }
  throw mismatch('its check value holds another text');
}
