// Where the store keeps sealed secrets (secret-box.ts), what each is bound to, and what a store does when it opens:
// refuse a secrets key other than the one the database was sealed with, then seal what an older version stored in
// the clear.
import type { Kysely } from 'kysely';
import { parseObject, toFlag, toJson } from './json-columns.ts';
import type { StoreDatabase } from './schema.ts';
import { isSealed, type SecretBox, SecretBoxError, sealedKeyId } from './secret-box.ts';
import { isUniqueViolation, SesameStoreError } from './store-error.ts';
import type { StoreDialect } from './types.ts';
import { writeTransaction } from './write-transaction.ts';

/** What each sealed value is bound to: a sealed value copied to another row or column does not open there. */
export const sealedAt = {
  totpSecret: (deviceId: string) => `mfa_devices.secret of device ${deviceId}`,
  /** Also bound to the issuer and client it is for: one moved to another issuer is never sent there. */
  clientSecret: (providerId: string, config: Record<string, unknown>) =>
    `identity_providers.config.clientSecret of provider ${providerId} for ${JSON.stringify([config.issuer ?? null, config.clientId ?? null])}`,
  keyCheck: 'settings.secretsKeyCheck',
};

const KEY_CHECK_SETTING = 'secretsKeyCheck';
const KEY_CHECK_TEXT = 'sesame secrets key check';

/** `value` opened for `context`, or why it does not open (not sealed, another key, changed or moved). */
export function tryOpen(
  secrets: SecretBox,
  value: string,
  context: string,
): { opened: string } | { problem: string } {
  try {
    return { opened: secrets.open(value, context) };
  } catch (error) {
    if (!(error instanceof SecretBoxError)) throw error;
    return { problem: error.message };
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
  return { ...config, clientSecret: secrets.seal(secret, sealedAt.clientSecret(providerId, config)) };
}

export type SealedAtOpen = { totpSecrets: number; clientSecrets: number };

/** What forgetting removed: the secrets sealed with a key this server does not have, and whose they were. */
export type Forgotten = {
  totpDevices: number;
  usersOfThem: string[];
  clientSecretsOf: string[];
  /** Sealed values that do not open but were sealed with neither the lost key nor this one: kept as they are. */
  keptOfOtherKeys: number;
};

/**
 * Forgetting the secrets another key sealed: only that key's, named by its id as the refusal showed it (the check
 * value's key id; `damaged` when the check value is), so a mistyped or stray key cannot wipe them.
 */
export type ForgetRequest = { lostKeyId: string; done: (forgotten: Forgotten) => void };

/** A store refused because the database's secrets were sealed with another key than the one it was given. */
export class SecretsKeyMismatchError extends SesameStoreError {
  /** The id of the key the database's check value was sealed with (`damaged` when it cannot be told). */
  storedKeyId = 'damaged';
}

/** What a key rotation re-sealed, and what it kept as it was (values that do not open with the key in use). */
export type Rotated = { totpSecrets: number; clientSecrets: number; kept: number };

/** Re-sealing every secret under a new key (`sesame-server rotate-secrets-key`), told what was done. */
export type RotateRequest = { to: SecretBox; done: (rotated: Rotated) => void };

/**
 * Run when a store opens, after the migrations. The first store on a database leaves a check value sealed with its
 * key; a later one whose key does not open it is refused before it reads or writes anything sealed (it could not
 * open the secrets there, and would seal new ones that the other servers could not). With `forget` (the lost key's
 * way out, `sesame-server forget-secrets`) it instead removes what the lost key sealed (forgetOtherKeys), tells
 * `forget`, and puts its own check in place. Then every secret still in the clear (written by a version before
 * sealing) is sealed.
 */
export async function prepareSealedColumns(
  db: Kysely<StoreDatabase>,
  dialect: StoreDialect,
  secrets: SecretBox,
  now: number,
  forget?: ForgetRequest,
): Promise<SealedAtOpen> {
  const check = await checkSecretsKey(db, secrets, now);
  if (check !== undefined) {
    if (!forget) throw keyMismatch(check);
    if (forget.lostKeyId !== check.keyId)
      throw new SecretsKeyMismatchError(
        'CONFLICT',
        `nothing was forgotten: this database's secrets were sealed with the key whose id is ${check.keyId}, not ${forget.lostKeyId}`,
      );
    if (forget.lostKeyId === secrets.keyId)
      throw new SecretsKeyMismatchError(
        'CONFLICT',
        `nothing was forgotten: ${secrets.keyId} is the key in use`,
      );
    const lost = forget.lostKeyId;
    forget.done(await writeTransaction(db, dialect, (trx) => forgetOtherKeys(trx, secrets, now, lost)));
  }
  return resealEach(db, (value, context) => (isSealed(value) ? undefined : secrets.seal(value, context)));
}

/**
 * Each stored secret (TOTP secrets, OIDC client secrets) replaced by `next(value, context)`, where that gives one;
 * a row is replaced only if it is unchanged meanwhile. How many of each were replaced.
 */
async function resealEach(
  db: Kysely<StoreDatabase>,
  next: (value: string, context: string) => string | undefined,
): Promise<SealedAtOpen> {
  const replaced: SealedAtOpen = { totpSecrets: 0, clientSecrets: 0 };
  for (const { id, secret } of await totpSecrets(db)) {
    const value = next(secret, sealedAt.totpSecret(id));
    if (value === undefined) continue;
    const result = await db
      .updateTable('mfa_devices')
      .set({ secret: value })
      .where('id', '=', id)
      .where('secret', '=', secret)
      .executeTakeFirst();
    replaced.totpSecrets += Number(result.numUpdatedRows);
  }
  for (const { id, config, parsed } of await providerConfigs(db)) {
    if (typeof parsed.clientSecret !== 'string') continue;
    const value = next(parsed.clientSecret, sealedAt.clientSecret(id, parsed));
    if (value === undefined) continue;
    const result = await db
      .updateTable('identity_providers')
      .set({ config: toJson({ ...parsed, clientSecret: value }) })
      .where('id', '=', id)
      .where('config', '=', config)
      .executeTakeFirst();
    replaced.clientSecrets += Number(result.numUpdatedRows);
  }
  return replaced;
}

/** The database's check value replaced by one sealed with `secrets` (the key it takes from now on). */
async function replaceKeyCheck(db: Kysely<StoreDatabase>, secrets: SecretBox, now: number): Promise<void> {
  await db
    .updateTable('settings')
    .set({ value: toJson(secrets.seal(KEY_CHECK_TEXT, sealedAt.keyCheck)), updated_at: now })
    .where('key', '=', KEY_CHECK_SETTING)
    .execute();
}

async function totpSecrets(db: Kysely<StoreDatabase>): Promise<{ id: string; secret: string }[]> {
  const rows = await db
    .selectFrom('mfa_devices')
    .select(['id', 'secret'])
    .where('secret', 'is not', null)
    .execute();
  return rows.filter((row): row is { id: string; secret: string } => row.secret !== null);
}

async function providerConfigs(db: Kysely<StoreDatabase>) {
  const rows = await db.selectFrom('identity_providers').select(['id', 'config']).execute();
  return rows.map((row) => ({ ...row, parsed: parseObject(row.config, 'identity_providers.config') }));
}

/**
 * Removes every secret sealed with the lost key (`lostKeyId`; none when the check value was damaged, `damaged`):
 * such TOTP devices are deleted (their owners register an app again), such OIDC client secrets are dropped and their
 * providers disabled (until an administrator gives the secret again). Only values sealed with that key go, never one
 * this key opens nor one of a third key (counted, kept): a check value forged by someone who can write to the
 * database cannot direct this at the secrets of the key in use. Then this key's check replaces the old one.
 */
async function forgetOtherKeys(
  db: Kysely<StoreDatabase>,
  secrets: SecretBox,
  now: number,
  lostKeyId: string,
): Promise<Forgotten> {
  const forgotten: Forgotten = { totpDevices: 0, usersOfThem: [], clientSecretsOf: [], keptOfOtherKeys: 0 };
  /** Whether `value` goes: sealed with the lost key and not opening with this one. */
  const goes = (value: string, context: string) => {
    if (!isSealed(value) || 'opened' in tryOpen(secrets, value, context)) return false;
    if (sealedKeyId(value) === lostKeyId) return true;
    forgotten.keptOfOtherKeys += 1;
    return false;
  };
  const users = new Set<string>();
  const rows = await db.selectFrom('mfa_devices').select(['id', 'user_id', 'secret']).execute();
  for (const { id, user_id: userId, secret } of rows) {
    if (secret === null || !goes(secret, sealedAt.totpSecret(id))) continue;
    const result = await db
      .deleteFrom('mfa_devices')
      .where('id', '=', id)
      .where('secret', '=', secret)
      .executeTakeFirst();
    forgotten.totpDevices += Number(result.numDeletedRows);
    if (Number(result.numDeletedRows) > 0) users.add(userId);
  }
  forgotten.usersOfThem = [...users].sort();
  for (const { id, config, parsed } of await providerConfigs(db)) {
    const { clientSecret, ...rest } = parsed;
    if (typeof clientSecret !== 'string' || !goes(clientSecret, sealedAt.clientSecret(id, parsed))) continue;
    const result = await db
      .updateTable('identity_providers')
      .set({ config: toJson(rest), enabled: toFlag(false), updated_at: now })
      .where('id', '=', id)
      .where('config', '=', config)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) > 0) forgotten.clientSecretsOf.push(id);
  }
  await replaceKeyCheck(db, secrets, now);
  return forgotten;
}

function keyMismatch({ why, keyId }: KeyCheck): SecretsKeyMismatchError {
  const error = new SecretsKeyMismatchError(
    'CONFLICT',
    `this database's secrets (TOTP secrets, OIDC client secrets) were sealed with another secrets key: ${why}. Start the server with the key they were sealed with (SESAME_SECRETS_KEY, or the secrets.key file of the data directory the database was first used with); if that key is lost, \`sesame-server forget-secrets --lost-key-id ${keyId}\` removes what it sealed so that the server can start with this one`,
  );
  error.storedKeyId = keyId;
  return error;
}

/**
 * Every sealed secret that opens with `from` sealed again with `to`, and `to`'s check in place of `from`'s, in one
 * transaction (run by the caller): a rotation cut short leaves the database with the old key. Values that do not
 * open with `from` (changed in the database) are kept as they are, and counted.
 */
export async function rotateSealedColumns(
  db: Kysely<StoreDatabase>,
  from: SecretBox,
  to: SecretBox,
  now: number,
): Promise<Rotated> {
  let kept = 0;
  const resealed = await resealEach(db, (value, context) => {
    if (!isSealed(value)) return undefined;
    const open = tryOpen(from, value, context);
    if ('opened' in open) return to.seal(open.opened, context);
    kept += 1;
    return undefined;
  });
  await replaceKeyCheck(db, to, now);
  return { ...resealed, kept };
}

/** Why the database's check value does not open with this key, and the id of the key that sealed it. */
type KeyCheck = { why: string; keyId: string };

/** Writes this key's check value if the database has none; else why the one there does not open with it. */
async function checkSecretsKey(
  db: Kysely<StoreDatabase>,
  secrets: SecretBox,
  now: number,
): Promise<KeyCheck | undefined> {
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
  const damaged = { why: `its check value (settings ${KEY_CHECK_SETTING}) is damaged`, keyId: 'damaged' };
  if (typeof stored !== 'string') return damaged;
  const keyId = sealedKeyId(stored) ?? 'damaged';
  const open = tryOpen(secrets, stored, sealedAt.keyCheck);
  if (!('opened' in open)) return { why: open.problem, keyId };
  return open.opened === KEY_CHECK_TEXT ? undefined : { why: 'its check value holds another text', keyId };
}
