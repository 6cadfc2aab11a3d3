// Server-wide settings (JSON by key: MFA policy, …) and the identity providers people sign in with.
import type { Kysely, Selectable } from 'kysely';
import { fromFlag, parseJson, parseObject, toFlag, toJson } from './json-columns.ts';
import type { IdentityProvidersTable, StoreDatabase } from './schema.ts';
import { sealedAt, sealProviderConfig, tryOpen } from './sealed-columns.ts';
import type { SecretBox } from './secret-box.ts';
import { isUniqueViolation, SesameStoreError } from './store-error.ts';
import type { IdentityProviderRecord, Store } from './types.ts';

export type SettingsStore = Pick<
  Store,
  | 'getSetting'
  | 'putSetting'
  | 'createIdentityProvider'
  | 'getIdentityProvider'
  | 'listIdentityProviders'
  | 'updateIdentityProvider'
  | 'deleteIdentityProvider'
>;

/** An OIDC provider's clientSecret is stored sealed under `secrets` (sealed-columns.ts) and read back open. */
export function createSettingsStore(db: Kysely<StoreDatabase>, secrets: SecretBox): SettingsStore {
  /** The config with its client secret opened; one that does not open is left out, with why (that provider only). */
  const openConfig = (
    row: Selectable<IdentityProvidersTable>,
  ): Pick<IdentityProviderRecord, 'config' | 'secretProblem'> => {
    const config = parseObject(row.config, 'identity_providers.config');
    const { clientSecret, ...rest } = config;
    if (typeof clientSecret !== 'string') return { config };
    const open = tryOpen(secrets, clientSecret, sealedAt.clientSecret(row.id, config));
    return 'opened' in open
      ? { config: { ...rest, clientSecret: open.opened } }
      : { config: rest, secretProblem: open.problem };
  };
  const toProvider = (row: Selectable<IdentityProvidersTable>): IdentityProviderRecord => ({
    id: row.id,
    kind: row.kind === 'saml' ? 'saml' : 'oidc',
    name: row.name,
    ...openConfig(row),
    enabled: fromFlag(row.enabled),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
  return {
    async getSetting(key) {
      const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
      return row ? parseJson(row.value, `settings.value (${key})`) : undefined;
    },

    async putSetting(key, value, now) {
      const values = { value: toJson(value), updated_at: now };
      await db
        .insertInto('settings')
        .values({ key, ...values })
        .onConflict((oc) => oc.column('key').doUpdateSet(values))
        .execute();
    },

    async createIdentityProvider(p) {
      try {
        await db
          .insertInto('identity_providers')
          .values({
            id: p.id,
            kind: p.kind,
            name: p.name,
            config: toJson(sealProviderConfig(secrets, p.id, p.config)),
            enabled: toFlag(p.enabled),
            created_at: p.createdAt,
            updated_at: p.updatedAt,
          })
          .execute();
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        throw new SesameStoreError('CONFLICT', `an identity provider with id "${p.id}" already exists`, {
          cause: error,
        });
      }
    },

    async getIdentityProvider(id) {
      const row = await db
        .selectFrom('identity_providers')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      return row && toProvider(row);
    },

    async listIdentityProviders() {
      const rows = await db.selectFrom('identity_providers').selectAll().orderBy('id').execute();
      return rows.map(toProvider);
    },

    async updateIdentityProvider(id, patch) {
      await db
        .updateTable('identity_providers')
        .set({
          updated_at: patch.updatedAt,
          ...(patch.name === undefined ? {} : { name: patch.name }),
          ...(patch.config === undefined
            ? {}
            : { config: toJson(sealProviderConfig(secrets, id, patch.config)) }),
          ...(patch.enabled === undefined ? {} : { enabled: toFlag(patch.enabled) }),
        })
        .where('id', '=', id)
        .execute();
    },

    async deleteIdentityProvider(id) {
      const result = await db.deleteFrom('identity_providers').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
  };
}
