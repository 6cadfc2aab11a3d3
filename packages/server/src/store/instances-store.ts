// Instances (registered servers) and their tags. Tags live one per row in instance_tags so the policy engine can
// query them across many instances; here they are gathered back into a `tags` object per instance, with one
// query for the tags of all instances a call returns.
import { type Kysely, type Selectable, sql } from 'kysely';
import { parseStringArray, toJson } from './json-columns.ts';
import type { InstancesTable, StoreDatabase } from './schema.ts';
import { isUniqueViolation } from './store-error.ts';
import type { Instance, InstanceKind, InstanceStatus, Store, StoreDialect, Tags } from './types.ts';
import { sameTags, toTags } from './user-tags-store.ts';
import { writeTransaction } from './write-transaction.ts';

export type InstancesStore = Pick<
  Store,
  | 'createInstance'
  | 'registerInstance'
  | 'getInstance'
  | 'findInstancesByName'
  | 'findInstanceByPublicKey'
  | 'listInstances'
  | 'updateInventory'
  | 'setInstanceStatus'
  | 'markAllInstancesConnectionLost'
  | 'setInstanceTags'
  | 'deleteInstance'
>;

/** The agent key's unique index, as PostgreSQL (constraint name) and SQLite (message) name it. */
const KEY_INDEX = /\binstances_public_key\b|\binstances\.public_key\b/;

/** Rows per INSERT: far below SQLite's and PostgreSQL's bound-parameter limits at three parameters a row. */
const TAG_ROWS_PER_INSERT = 500;

/** An instance as its `instances` row (tags live in `instance_tags`). */
export function instanceRow(i: Instance): InstancesTable {
  return {
    id: i.id,
    name: i.name,
    kind: i.kind,
    activation_id: i.activationId,
    public_key: i.publicKey,
    status: i.status,
    last_seen_at: i.lastSeenAt,
    registered_at: i.registeredAt,
    hostname: i.hostname,
    platform: i.platform,
    platform_version: i.platformVersion,
    ip_addresses: toJson(i.ipAddresses),
    agent_version: i.agentVersion,
  };
}

export function createInstancesStore(db: Kysely<StoreDatabase>, dialect: StoreDialect): InstancesStore {
  async function withTags(row: Selectable<InstancesTable>): Promise<Instance> {
    const tagRows = await db
      .selectFrom('instance_tags')
      .select(['instance_id', 'key', 'value'])
      .where('instance_id', '=', row.id)
      .orderBy('key')
      .execute();
    return toInstance(row, groupTags(tagRows).get(row.id));
  }

  return {
    async createInstance(i) {
      await db.transaction().execute((trx) => insertInstance(trx, i));
    },

    async registerInstance(i, now) {
      try {
        return await writeTransaction(db, dialect, async (trx) => {
          const claimed = await trx
            .updateTable('activations')
            .set({ registrations_count: sql<number>`registrations_count + 1` })
            .where('id', '=', i.activationId)
            .whereRef('registrations_count', '<', 'registration_limit')
            .where('expires_at', '>', now)
            .executeTakeFirst();
          if (claimed.numUpdatedRows === 0n) return 'limit' as const;
          await insertInstance(trx, i);
          return 'created' as const;
        });
      } catch (error) {
        // The unique key index (not the id's): the claim rolled back with the insert.
        if (
          isUniqueViolation(error) &&
          KEY_INDEX.test(`${(error as { constraint?: string }).constraint} ${error}`)
        )
          return 'key taken';
        throw error;
      }
    },

    async getInstance(id) {
      const row = await db.selectFrom('instances').selectAll().where('id', '=', id).executeTakeFirst();
      return row && withTags(row);
    },

    async findInstanceByPublicKey(publicKey) {
      const row = await db
        .selectFrom('instances')
        .selectAll()
        .where('public_key', '=', publicKey)
        .orderBy('id')
        .executeTakeFirst();
      return row && withTags(row);
    },

    async findInstancesByName(name) {
      const rows = await db
        .selectFrom('instances')
        .selectAll()
        .where('name', '=', name)
        .orderBy('id')
        .execute();
      if (rows.length === 0) return [];
      const tagRows = await db
        .selectFrom('instance_tags')
        .select(['instance_id', 'key', 'value'])
        .where('instance_id', 'in', db.selectFrom('instances').select('id').where('name', '=', name))
        .orderBy('instance_id')
        .orderBy('key')
        .execute();
      const tags = groupTags(tagRows);
      return rows.map((row) => toInstance(row, tags.get(row.id)));
    },

    async listInstances() {
      const rows = await db.selectFrom('instances').selectAll().orderBy('name').orderBy('id').execute();
      if (rows.length === 0) return [];
      const tagRows = await db
        .selectFrom('instance_tags')
        .select(['instance_id', 'key', 'value'])
        .orderBy('instance_id')
        .orderBy('key')
        .execute();
      const tags = groupTags(tagRows);
      return rows.map((row) => toInstance(row, tags.get(row.id)));
    },

    async updateInventory(id, inv) {
      await db
        .updateTable('instances')
        .set({
          hostname: inv.hostname,
          platform: inv.platform,
          platform_version: inv.platformVersion,
          ip_addresses: toJson(inv.ipAddresses),
          agent_version: inv.agentVersion,
        })
        .where('id', '=', id)
        .execute();
    },

    async setInstanceStatus(id, status, lastSeenAt) {
      await db
        .updateTable('instances')
        .set({ status, last_seen_at: lastSeenAt })
        .where('id', '=', id)
        .execute();
    },

    async markAllInstancesConnectionLost() {
      const lost: InstanceStatus = 'ConnectionLost';
      const result = await db
        .updateTable('instances')
        .set({ status: lost })
        .where('status', '<>', lost)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },

    // The first UPDATE locks the instance's row (PostgreSQL) or the database (SQLite), so concurrent replacements
    // of the same instance's tags queue up, and `expected` is compared with what is there under that lock.
    async setInstanceTags(id, tags, expected) {
      return db.transaction().execute(async (trx) => {
        const locked = await trx
          .updateTable('instances')
          .set({ name: sql<string>`name` })
          .where('id', '=', id)
          .executeTakeFirst();
        if (locked.numUpdatedRows === 0n) return false;
        if (expected) {
          const rows = await trx
            .selectFrom('instance_tags')
            .select(['key', 'value'])
            .where('instance_id', '=', id)
            .execute();
          if (!sameTags(toTags(rows), expected)) return false;
        }
        if (Object.hasOwn(tags, 'Name'))
          await trx.updateTable('instances').set({ name: tags.Name }).where('id', '=', id).execute();
        await trx.deleteFrom('instance_tags').where('instance_id', '=', id).execute();
        await insertTags(trx, id, tags);
        return true;
      });
    },

    async deleteInstance(id) {
      const result = await db.deleteFrom('instances').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
  };
}

/** The instance's row and its tags' rows, inside the caller's transaction. */
async function insertInstance(trx: Kysely<StoreDatabase>, i: Instance): Promise<void> {
  await trx.insertInto('instances').values(instanceRow(i)).execute();
  await insertTags(trx, i.id, i.tags);
}

async function insertTags(trx: Kysely<StoreDatabase>, instanceId: string, tags: Tags): Promise<void> {
  const rows = Object.entries(tags).map(([key, value]) => ({ instance_id: instanceId, key, value }));
  for (let start = 0; start < rows.length; start += TAG_ROWS_PER_INSERT) {
    await trx
      .insertInto('instance_tags')
      .values(rows.slice(start, start + TAG_ROWS_PER_INSERT))
      .execute();
  }
}

type TagRow = { instance_id: string; key: string; value: string };

function groupTags(rows: TagRow[]): Map<string, Array<[string, string]>> {
  const byInstance = new Map<string, Array<[string, string]>>();
  for (const row of rows) {
    let entries = byInstance.get(row.instance_id);
    if (!entries) {
      entries = [];
      byInstance.set(row.instance_id, entries);
    }
    entries.push([row.key, row.value]);
  }
  return byInstance;
}

function toInstance(row: Selectable<InstancesTable>, tagEntries: Array<[string, string]> = []): Instance {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as InstanceKind,
    activationId: row.activation_id,
    publicKey: row.public_key,
    status: row.status as InstanceStatus,
    lastSeenAt: row.last_seen_at,
    registeredAt: row.registered_at,
    hostname: row.hostname,
    platform: row.platform,
    platformVersion: row.platform_version,
    ipAddresses: parseStringArray(row.ip_addresses, 'instances.ip_addresses'),
    agentVersion: row.agent_version,
    // fromEntries defines own properties, so even a tag named "__proto__" stays an ordinary tag.
    tags: Object.fromEntries(tagEntries),
  };
}
