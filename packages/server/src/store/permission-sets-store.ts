// Permission sets: a name, a session duration, one inline policy and an ordered list of managed policies. The
// attachments live one per row in permission_set_policies and are always written together with the set, in one
// transaction: a list that names an unknown policy changes nothing.
import type { Kysely, Selectable, Transaction, Updateable } from 'kysely';
import { distinct, duplicateNameError, groupBy, quoteList } from './access-rows.ts';
import type { PermissionSetsTable, StoreDatabase } from './schema.ts';
import { isForeignKeyViolation, isUniqueViolation, SesameStoreError } from './store-error.ts';
import type { PermissionSet, Store } from './types.ts';

export type PermissionSetsStore = Pick<
  Store,
  | 'createPermissionSet'
  | 'getPermissionSet'
  | 'getPermissionSetByName'
  | 'listPermissionSets'
  | 'updatePermissionSet'
  | 'deletePermissionSet'
>;

export function createPermissionSetsStore(db: Kysely<StoreDatabase>): PermissionSetsStore {
  return {
    async createPermissionSet(p) {
      try {
        await db.transaction().execute(async (trx) => {
          await trx
            .insertInto('permission_sets')
            .values({
              id: p.id,
              name: p.name,
              description: p.description,
              session_duration_ms: p.sessionDurationMs,
              inline_policy: p.inlinePolicy,
              created_at: p.createdAt,
              updated_at: p.updatedAt,
            })
            .execute();
          await attachPolicies(trx, p.id, p.policyIds);
        });
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw await duplicateNameError(db, 'permission_sets', 'permission set', p, error);
        }
        if (isForeignKeyViolation(error)) throw policyJustDeletedError(error);
        throw error;
      }
    },

    async getPermissionSet(id) {
      const row = await db.selectFrom('permission_sets').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toPermissionSet(row, (await attachedPolicyIds(db, [row.id])).get(row.id));
    },

    async getPermissionSetByName(name) {
      const row = await db
        .selectFrom('permission_sets')
        .selectAll()
        .where('name', '=', name)
        .executeTakeFirst();
      return row && toPermissionSet(row, (await attachedPolicyIds(db, [row.id])).get(row.id));
    },

    async listPermissionSets() {
      const rows = await db.selectFrom('permission_sets').selectAll().orderBy('name').orderBy('id').execute();
      if (rows.length === 0) return [];
      const policyIds = await attachedPolicyIds(db);
      return rows.map((row) => toPermissionSet(row, policyIds.get(row.id)));
    },

    // The UPDATE comes first: it locks the permission set's row (PostgreSQL) or takes the write lock (SQLite), so
    // concurrent replacements of the list queue up; an unknown policy id rolls back the whole update.
    async updatePermissionSet(id, patch) {
      const set: Updateable<PermissionSetsTable> = { updated_at: patch.updatedAt };
      if (patch.description !== undefined) set.description = patch.description;
      if (patch.sessionDurationMs !== undefined) set.session_duration_ms = patch.sessionDurationMs;
      if (patch.inlinePolicy !== undefined) set.inline_policy = patch.inlinePolicy;
      try {
        await db.transaction().execute(async (trx) => {
          const updated = await trx
            .updateTable('permission_sets')
            .set(set)
            .where('id', '=', id)
            .executeTakeFirst();
          if (updated.numUpdatedRows === 0n || patch.policyIds === undefined) return;
          await trx.deleteFrom('permission_set_policies').where('permission_set_id', '=', id).execute();
          await attachPolicies(trx, id, patch.policyIds);
        });
      } catch (error) {
        if (isForeignKeyViolation(error)) throw policyJustDeletedError(error);
        throw error;
      }
    },

    // Attachments and assignments go with it (foreign keys, ON DELETE CASCADE).
    async deletePermissionSet(id) {
      const result = await db.deleteFrom('permission_sets').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
  };
}

/** Attaches `policyIds` (duplicates dropped, order kept) after checking that every one of them exists. */
async function attachPolicies(
  trx: Transaction<StoreDatabase>,
  permissionSetId: string,
  policyIds: readonly string[],
): Promise<void> {
  const ids = distinct(policyIds);
  if (ids.length === 0) return;
  const found = await trx.selectFrom('policies').select('id').where('id', 'in', ids).execute();
  const known = new Set(found.map((row) => row.id));
  const missing = ids.filter((id) => !known.has(id));
  if (missing.length > 0) {
    throw new SesameStoreError(
      'CONFLICT',
      `no managed ${missing.length === 1 ? 'policy has' : 'policies have'} the id ${quoteList(missing)}; list the policies to find the right ids (nothing was changed)`,
    );
  }
  await trx
    .insertInto('permission_set_policies')
    .values(
      ids.map((policyId, position) => ({
        permission_set_id: permissionSetId,
        policy_id: policyId,
        position,
      })),
    )
    .execute();
}

// Only when a policy is deleted between the check above and the INSERT: the foreign key still refuses it.
function policyJustDeletedError(cause: unknown): SesameStoreError {
  return new SesameStoreError(
    'CONFLICT',
    'a managed policy in the list was deleted at the same time; list the policies and try again (nothing was changed)',
    { cause },
  );
}

/** The attached policy ids of the given permission sets (all when omitted), in their order. */
export async function attachedPolicyIds(
  db: Kysely<StoreDatabase> | Transaction<StoreDatabase>,
  permissionSetIds?: readonly string[],
): Promise<Map<string, string[]>> {
  let query = db.selectFrom('permission_set_policies').select(['permission_set_id', 'policy_id']);
  if (permissionSetIds !== undefined) query = query.where('permission_set_id', 'in', permissionSetIds);
  const rows = await query.orderBy('permission_set_id').orderBy('position').execute();
  return groupBy(
    rows,
    (row) => row.permission_set_id,
    (row) => row.policy_id,
  );
}

export function toPermissionSet(
  row: Selectable<PermissionSetsTable>,
  policyIds: string[] = [],
): PermissionSet {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    sessionDurationMs: row.session_duration_ms,
    inlinePolicy: row.inline_policy,
    policyIds,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
