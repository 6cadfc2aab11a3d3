// Groups of users (ProductionAccess, DevelopmentAccess, …): permission sets are assigned to them, and a member
// gets what the group is assigned. Group names are unique regardless of letter case.
import type { Kysely, Selectable, Updateable } from 'kysely';
import { duplicateNameError } from './access-rows.ts';
import type { GroupsTable, StoreDatabase } from './schema.ts';
import { isForeignKeyViolation, isUniqueViolation, SesameStoreError } from './store-error.ts';
import type { Group, Store } from './types.ts';
import { toUser } from './users-store.ts';

export type GroupsStore = Pick<
  Store,
  | 'createGroup'
  | 'getGroup'
  | 'getGroupByName'
  | 'listGroups'
  | 'updateGroup'
  | 'deleteGroup'
  | 'addGroupMember'
  | 'removeGroupMember'
  | 'listGroupMembers'
  | 'listUserGroups'
>;

export function createGroupsStore(db: Kysely<StoreDatabase>): GroupsStore {
  return {
    async createGroup(g) {
      try {
        await db
          .insertInto('groups')
          .values({ id: g.id, name: g.name, description: g.description, created_at: g.createdAt })
          .execute();
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        throw await duplicateNameError(db, 'groups', 'group', g, error);
      }
    },

    async getGroup(id) {
      const row = await db.selectFrom('groups').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toGroup(row);
    },

    async getGroupByName(name) {
      const row = await db.selectFrom('groups').selectAll().where('name', '=', name).executeTakeFirst();
      return row && toGroup(row);
    },

    async listGroups() {
      const rows = await db.selectFrom('groups').selectAll().orderBy('name').orderBy('id').execute();
      return rows.map(toGroup);
    },

    async updateGroup(id, patch) {
      const set: Updateable<GroupsTable> = {};
      if (patch.description !== undefined) set.description = patch.description;
      if (Object.keys(set).length === 0) return;
      await db.updateTable('groups').set(set).where('id', '=', id).execute();
    },

    // Memberships go by foreign key; assignments name the group without one, so they go here, in the same
    // transaction, after the group's row (see deleteUser).
    async deleteGroup(id) {
      return db.transaction().execute(async (trx) => {
        const result = await trx.deleteFrom('groups').where('id', '=', id).executeTakeFirst();
        await trx
          .deleteFrom('assignments')
          .where('principal_type', '=', 'group')
          .where('principal_id', '=', id)
          .execute();
        return result.numDeletedRows > 0n;
      });
    },

    async addGroupMember(groupId, userId) {
      try {
        const result = await db
          .insertInto('group_members')
          .values({ group_id: groupId, user_id: userId })
          .onConflict((oc) => oc.columns(['group_id', 'user_id']).doNothing())
          .executeTakeFirst();
        return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
      } catch (error) {
        if (!isForeignKeyViolation(error)) throw error;
        const [group, user] = await Promise.all([
          db.selectFrom('groups').select('id').where('id', '=', groupId).executeTakeFirst(),
          db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst(),
        ]);
        const missing = [
          ...(group ? [] : [`no group with id "${groupId}"`]),
          ...(user ? [] : [`no user with id "${userId}"`]),
        ];
        const reason = missing.length > 0 ? missing.join(' and ') : 'the group or the user was just deleted';
        throw new SesameStoreError(
          'CONFLICT',
          `cannot add the user to the group: ${reason}; check the ids (list groups and users to find them)`,
          { cause: error },
        );
      }
    },

    async removeGroupMember(groupId, userId) {
      const result = await db
        .deleteFrom('group_members')
        .where('group_id', '=', groupId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async listGroupMembers(groupId) {
      const rows = await db
        .selectFrom('group_members')
        .innerJoin('users', 'users.id', 'group_members.user_id')
        .selectAll('users')
        .where('group_members.group_id', '=', groupId)
        .orderBy('users.username')
        .orderBy('users.id')
        .execute();
      return rows.map(toUser);
    },

    async listUserGroups(userId) {
      const rows = await db
        .selectFrom('group_members')
        .innerJoin('groups', 'groups.id', 'group_members.group_id')
        .selectAll('groups')
        .where('group_members.user_id', '=', userId)
        .orderBy('groups.name')
        .orderBy('groups.id')
        .execute();
      return rows.map(toGroup);
    },
  };
}

export function toGroup(row: Selectable<GroupsTable>): Group {
  return { id: row.id, name: row.name, description: row.description, createdAt: row.created_at };
}
