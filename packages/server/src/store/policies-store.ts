// Managed policies: named IAM policy documents that permission sets attach. The store keeps the document as
// text, exactly as written; parsing and validating it is the policy package's business. A policy that is
// attached to a permission set cannot be deleted.
import type { Kysely, Selectable, Updateable } from 'kysely';
import { duplicateNameError, quoteList } from './access-rows.ts';
import type { PoliciesTable, StoreDatabase } from './schema.ts';
import { isForeignKeyViolation, isUniqueViolation, SesameStoreError } from './store-error.ts';
import type { ManagedPolicy, Store } from './types.ts';

export type PoliciesStore = Pick<
  Store,
  'createPolicy' | 'getPolicy' | 'getPolicyByName' | 'listPolicies' | 'updatePolicy' | 'deletePolicy'
>;

export function createPoliciesStore(db: Kysely<StoreDatabase>): PoliciesStore {
  return {
    async createPolicy(p) {
      try {
        await db
          .insertInto('policies')
          .values({
            id: p.id,
            name: p.name,
            description: p.description,
            document: p.document,
            created_at: p.createdAt,
            updated_at: p.updatedAt,
          })
          .execute();
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        throw await duplicateNameError(db, 'policies', 'policy', p, error);
      }
    },

    async getPolicy(id) {
      const row = await db.selectFrom('policies').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toPolicy(row);
    },

    async getPolicyByName(name) {
      const row = await db.selectFrom('policies').selectAll().where('name', '=', name).executeTakeFirst();
      return row && toPolicy(row);
    },

    async listPolicies() {
      const rows = await db.selectFrom('policies').selectAll().orderBy('name').orderBy('id').execute();
      return rows.map(toPolicy);
    },

    async updatePolicy(id, patch) {
      const set: Updateable<PoliciesTable> = { updated_at: patch.updatedAt };
      if (patch.description !== undefined) set.description = patch.description;
      if (patch.document !== undefined) set.document = patch.document;
      await db.updateTable('policies').set(set).where('id', '=', id).execute();
    },

    // One DELETE decides (the foreign key from permission_set_policies refuses it while the policy is attached,
    // so an attachment made at the same moment cannot slip through); the names are looked up only when it refuses.
    async deletePolicy(id) {
      try {
        const result = await db.deleteFrom('policies').where('id', '=', id).executeTakeFirst();
        return result.numDeletedRows > 0n;
      } catch (error) {
        if (!isForeignKeyViolation(error)) throw error;
        throw await attachedPolicyError(db, id, error);
      }
    },
  };
}

async function attachedPolicyError(
  db: Kysely<StoreDatabase>,
  policyId: string,
  cause: unknown,
): Promise<SesameStoreError> {
  const [policy, sets] = await Promise.all([
    db.selectFrom('policies').select('name').where('id', '=', policyId).executeTakeFirst(),
    db
      .selectFrom('permission_set_policies')
      .innerJoin('permission_sets', 'permission_sets.id', 'permission_set_policies.permission_set_id')
      .select('permission_sets.name')
      .where('permission_set_policies.policy_id', '=', policyId)
      .orderBy('permission_sets.name')
      .execute(),
  ]);
  const names = sets.map((row) => row.name);
  const where =
    names.length === 0
      ? 'a permission set'
      : `${names.length === 1 ? 'the permission set' : 'the permission sets'} ${quoteList(names)}`;
  return new SesameStoreError(
    'CONFLICT',
    `the policy "${policy?.name ?? policyId}" is attached to ${where}; detach it from ${names.length > 1 ? 'them' : 'it'} first, then delete the policy`,
    { cause },
  );
}

export function toPolicy(row: Selectable<PoliciesTable>): ManagedPolicy {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    document: row.document,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
