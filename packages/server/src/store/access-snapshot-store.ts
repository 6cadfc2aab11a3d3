// The whole access model in one read: the server keeps it in memory to evaluate policies quickly and reloads it
// after every change. A fixed number of queries however many rows (one per table), all in one transaction:
// REPEATABLE READ on PostgreSQL, so every query sees the same snapshot; on SQLite a transaction reads one
// snapshot of the file (WAL) and holds the store's only connection meanwhile.
import type { Kysely } from 'kysely';
import { groupBy } from './access-rows.ts';
import { toAssignment } from './assignments-store.ts';
import { toGroup } from './groups-store.ts';
import { fromFlag } from './json-columns.ts';
import { attachedPolicyIds, toPermissionSet } from './permission-sets-store.ts';
import { toPolicy } from './policies-store.ts';
import type { StoreDatabase } from './schema.ts';
import type { Store } from './types.ts';
import { toTags } from './user-tags-store.ts';

export type AccessSnapshotStore = Pick<Store, 'loadAccessSnapshot'>;

export function createAccessSnapshotStore(db: Kysely<StoreDatabase>): AccessSnapshotStore {
  return {
    async loadAccessSnapshot() {
      return db
        .transaction()
        .setIsolationLevel('repeatable read')
        .setAccessMode('read only')
        .execute(async (trx) => {
          const users = await trx
            .selectFrom('users')
            .select(['id', 'username', 'disabled'])
            .orderBy('username')
            .orderBy('id')
            .execute();
          const tagRows = await trx
            .selectFrom('user_tags')
            .select(['user_id', 'key', 'value'])
            .orderBy('user_id')
            .orderBy('key')
            .execute();
          const groups = await trx.selectFrom('groups').selectAll().orderBy('name').orderBy('id').execute();
          const memberships = await trx
            .selectFrom('group_members')
            .select(['group_id', 'user_id'])
            .orderBy('group_id')
            .orderBy('user_id')
            .execute();
          const policies = await trx
            .selectFrom('policies')
            .selectAll()
            .orderBy('name')
            .orderBy('id')
            .execute();
          const permissionSets = await trx
            .selectFrom('permission_sets')
            .selectAll()
            .orderBy('name')
            .orderBy('id')
            .execute();
          const policyIds = await attachedPolicyIds(trx);
          const assignments = await trx
            .selectFrom('assignments')
            .selectAll()
            .orderBy('created_at')
            .orderBy('id')
            .execute();

          const tags = groupBy(
            tagRows,
            (row) => row.user_id,
            (row) => row,
          );
          return {
            users: users.map((u) => ({
              id: u.id,
              username: u.username,
              disabled: fromFlag(u.disabled),
              tags: toTags(tags.get(u.id)),
            })),
            groups: groups.map(toGroup),
            memberships: memberships.map((m) => ({ groupId: m.group_id, userId: m.user_id })),
            policies: policies.map(toPolicy),
            permissionSets: permissionSets.map((p) => toPermissionSet(p, policyIds.get(p.id))),
            assignments: assignments.map(toAssignment),
          };
        });
    },
  };
}
