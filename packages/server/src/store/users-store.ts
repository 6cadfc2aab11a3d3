// Users: the people who sign in. Usernames are unique regardless of letter case.
import type { Kysely, Selectable } from 'kysely';
import { fromFlag, toFlag } from './json-columns.ts';
import type { StoreDatabase, UsersTable } from './schema.ts';
import { isUniqueViolation, SesameStoreError } from './store-error.ts';
import type { Store, User } from './types.ts';

export type UsersStore = Pick<
  Store,
  | 'createUser'
  | 'getUserById'
  | 'getUserByUsername'
  | 'listUsers'
  | 'setPasswordHash'
  | 'setUserDisabled'
  | 'deleteUser'
  | 'setUserEmail'
  | 'getUserByExternalId'
  | 'getUserByEmail'
>;

export function createUsersStore(db: Kysely<StoreDatabase>): UsersStore {
  return {
    async createUser(u) {
      const row: UsersTable = {
        id: u.id,
        username: u.username,
        password_hash: u.passwordHash,
        is_admin: toFlag(u.isAdmin),
        disabled: 0,
        created_at: u.createdAt,
        email: u.email ?? null,
        source: u.source ?? 'local',
        external_id: u.externalId ?? null,
      };
      try {
        await db.insertInto('users').values(row).execute();
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        const taken = await db.selectFrom('users').select('id').where('id', '=', u.id).executeTakeFirst();
        const message = taken
          ? `a user with id "${u.id}" already exists`
          : `the username "${u.username}" is already taken (user names are unique regardless of case); choose another`;
        throw new SesameStoreError('CONFLICT', message, { cause: error });
      }
      return toUser(row);
    },

    async getUserById(id) {
      const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toUser(row);
    },

    async getUserByUsername(username) {
      const row = await db
        .selectFrom('users')
        .selectAll()
        .where('username', '=', username)
        .executeTakeFirst();
      return row && toUser(row);
    },

    async getUserByExternalId(source, externalId) {
      const row = await db
        .selectFrom('users')
        .selectAll()
        .where('source', '=', source)
        .where('external_id', '=', externalId)
        .executeTakeFirst();
      return row && toUser(row);
    },

    async getUserByEmail(email) {
      const row = await db
        .selectFrom('users')
        .selectAll()
        .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
        .orderBy('created_at')
        .executeTakeFirst();
      return row && toUser(row);
    },

    async setUserEmail(userId, email) {
      await db.updateTable('users').set({ email }).where('id', '=', userId).execute();
    },

    async listUsers() {
      const rows = await db.selectFrom('users').selectAll().orderBy('username').orderBy('id').execute();
      return rows.map(toUser);
    },

    async setPasswordHash(userId, hash) {
      await db.updateTable('users').set({ password_hash: hash }).where('id', '=', userId).execute();
    },

    async setUserDisabled(userId, disabled) {
      await db
        .updateTable('users')
        .set({ disabled: toFlag(disabled) })
        .where('id', '=', userId)
        .execute();
    },

    // Tokens, setup tokens, memberships and tags go with the user (foreign keys, ON DELETE CASCADE); assignments
    // name their principal without a foreign key, so they go here, in the same transaction. The user's row goes
    // first: on PostgreSQL that waits for (or holds off) a createAssignment that has locked the row.
    // Sessions and the audit trail keep naming the user: they are history.
    async deleteUser(id) {
      return db.transaction().execute(async (trx) => {
        const result = await trx.deleteFrom('users').where('id', '=', id).executeTakeFirst();
        await trx
          .deleteFrom('assignments')
          .where('principal_type', '=', 'user')
          .where('principal_id', '=', id)
          .execute();
        return result.numDeletedRows > 0n;
      });
    },
  };
}

export function toUser(row: Selectable<UsersTable>): User {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    isAdmin: fromFlag(row.is_admin),
    disabled: fromFlag(row.disabled),
    createdAt: row.created_at,
    email: row.email,
    source: row.source,
    externalId: row.external_id,
  };
}
