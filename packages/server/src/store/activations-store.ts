// Activations: the code + id pairs an agent presents once to register its server.
import type { Kysely, Selectable } from 'kysely';
import { parseTags, toJson } from './json-columns.ts';
import type { ActivationsTable, StoreDatabase } from './schema.ts';
import type { Activation, InstanceKind, Store } from './types.ts';

export type ActivationsStore = Pick<
  Store,
  'createActivation' | 'getActivation' | 'listActivations' | 'deleteActivation'
>;

export function createActivationsStore(db: Kysely<StoreDatabase>): ActivationsStore {
  return {
    async createActivation(a) {
      await db
        .insertInto('activations')
        .values({
          id: a.id,
          code_hash: a.codeHash,
          description: a.description,
          instance_kind: a.instanceKind,
          registration_limit: a.registrationLimit,
          registrations_count: a.registrationsCount,
          expires_at: a.expiresAt,
          default_tags: toJson(a.defaultTags),
          default_instance_name: a.defaultInstanceName,
          created_by: a.createdBy,
          created_at: a.createdAt,
        })
        .execute();
    },

    async getActivation(id) {
      const row = await db.selectFrom('activations').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toActivation(row);
    },

    async listActivations() {
      const rows = await db
        .selectFrom('activations')
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .execute();
      return rows.map(toActivation);
    },

    async deleteActivation(id) {
      const result = await db.deleteFrom('activations').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    // A single conditional UPDATE: the database re-checks the WHERE under the row lock (PostgreSQL) or the
    // write lock (SQLite), so concurrent claims can never push the count past the limit.
  };
}

function toActivation(row: Selectable<ActivationsTable>): Activation {
  return {
    id: row.id,
    codeHash: row.code_hash,
    description: row.description,
    instanceKind: row.instance_kind as InstanceKind,
    registrationLimit: row.registration_limit,
    registrationsCount: row.registrations_count,
    expiresAt: row.expires_at,
    defaultTags: parseTags(row.default_tags, 'activations.default_tags'),
    defaultInstanceName: row.default_instance_name,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}
