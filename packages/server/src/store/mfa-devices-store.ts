// MFA devices: authenticator apps (TOTP secrets) and security keys/passkeys (WebAuthn credentials).
import type { Kysely, Selectable } from 'kysely';
import { parseStringArray, toJson } from './json-columns.ts';
import type { MfaDevicesTable, StoreDatabase } from './schema.ts';
import { sealedAt, tryOpen } from './sealed-columns.ts';
import type { SecretBox } from './secret-box.ts';
import type { MfaDevice, Store } from './types.ts';

export type MfaDevicesStore = Pick<
  Store,
  | 'createMfaDevice'
  | 'listMfaDevices'
  | 'getMfaDeviceByCredentialId'
  | 'claimTotpStep'
  | 'setWebAuthnCounter'
  | 'renameMfaDevice'
  | 'deleteMfaDevice'
  | 'deleteUserMfaDevices'
>;

/** TOTP secrets are stored sealed under `secrets` (sealed-columns.ts) and read back open. */
export function createMfaDevicesStore(db: Kysely<StoreDatabase>, secrets: SecretBox): MfaDevicesStore {
  /**
   * A device's secret, opened; one that does not open (changed in the database) makes that device unusable, with
   * why, and leaves the person's other devices (and the listing) working.
   */
  const totpSecretOf = (row: Selectable<MfaDevicesTable>): Pick<MfaDevice, 'secret' | 'secretProblem'> => {
    if (row.secret === null) return { secret: null };
    const open = tryOpen(secrets, row.secret, sealedAt.totpSecret(row.id));
    return 'opened' in open ? { secret: open.opened } : { secret: null, secretProblem: open.problem };
  };
  const toDevice = (row: Selectable<MfaDevicesTable>): MfaDevice => ({
    id: row.id,
    userId: row.user_id,
    kind: row.kind === 'webauthn' ? 'webauthn' : 'totp',
    name: row.name,
    ...totpSecretOf(row),
    credentialId: row.credential_id,
    publicKey: row.public_key,
    counter: row.counter,
    transports: parseStringArray(row.transports, 'mfa_devices.transports'),
    lastUsedStep: row.last_used_step,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  });
  return {
    async createMfaDevice(d) {
      await db
        .insertInto('mfa_devices')
        .values({
          id: d.id,
          user_id: d.userId,
          kind: d.kind,
          name: d.name,
          secret: d.secret === null ? null : secrets.seal(d.secret, sealedAt.totpSecret(d.id)),
          credential_id: d.credentialId,
          public_key: d.publicKey,
          counter: d.counter,
          transports: toJson(d.transports),
          last_used_step: d.lastUsedStep,
          created_at: d.createdAt,
          last_used_at: d.lastUsedAt,
        })
        .execute();
    },

    async listMfaDevices(userId) {
      const rows = await db
        .selectFrom('mfa_devices')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      return rows.map(toDevice);
    },

    async getMfaDeviceByCredentialId(credentialId) {
      const row = await db
        .selectFrom('mfa_devices')
        .selectAll()
        .where('credential_id', '=', credentialId)
        .executeTakeFirst();
      return row && toDevice(row);
    },

    // One UPDATE decides, so two sign-ins racing with the same code cannot both win.
    async claimTotpStep(deviceId, step, now) {
      const result = await db
        .updateTable('mfa_devices')
        .set({ last_used_step: step, last_used_at: now })
        .where('id', '=', deviceId)
        .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', step)]))
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    async setWebAuthnCounter(deviceId, counter, now) {
      await db
        .updateTable('mfa_devices')
        .set({ counter, last_used_at: now })
        .where('id', '=', deviceId)
        .execute();
    },

    async renameMfaDevice(userId, deviceId, name) {
      const result = await db
        .updateTable('mfa_devices')
        .set({ name })
        .where('id', '=', deviceId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    async deleteMfaDevice(userId, deviceId) {
      const result = await db
        .deleteFrom('mfa_devices')
        .where('id', '=', deviceId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async deleteUserMfaDevices(userId) {
      const result = await db.deleteFrom('mfa_devices').where('user_id', '=', userId).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
