// Users: the people who sign in. Usernames are unique regardless of letter case.
import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import { fromFlag, toFlag } from './json-columns.ts';
import type { StoreDatabase, UsersTable } from './schema.ts';
import { isUniqueViolation, SesameStoreError } from './store-error.ts';
import type { Store, StoreDialect, User } from './types.ts';

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

/** Held (PostgreSQL, for the transaction) while a user name is checked against the others and inserted. */
const USERNAMES_LOCK = 0x5e5a_0001;

/**
 * A user name that one of `others` starts, followed by "-", or that starts one of them: sessions are named
 * `<username>-<17 hex>`, so the seeds' `session/${aws:username}-*` for "alice" would also match every session
 * of "alice-bob". Such pairs are refused when the second user is created, and so is "alice" while sessions of a
 * deleted "alice-bob" are kept (their recordings included).
 */
async function prefixClash(
  trx: Transaction<StoreDatabase>,
  username: string,
  reuseName: boolean,
): Promise<{ name: string; deleted: boolean } | undefined> {
  const shorter = [...username.matchAll(/-/g)].map((m) => username.slice(0, m.index));
  const row = await trx
    .selectFrom('users')
    .select('username')
    .where((eb) =>
      eb.or([
        ...(shorter.length > 0 ? [eb(eb.fn('lower', ['username']), 'in', shorter)] : []),
        // Byte-wise text in both dialects: the names that start with `${username}-`.
        eb.and([eb('username', '>=', `${username}-`), eb('username', '<', `${username}.`)]),
      ]),
    )
    .executeTakeFirst();
  if (row) return { name: row.username, deleted: false };
  // Sessions outlive their owner's account: the range of ids that `${username}-*` matches (the primary key), of
  // owners no longer here: a deleted user's of this very name too, unless the name is knowingly reused.
  const session = await trx
    .selectFrom('sessions')
    .select('owner')
    .where('id', '>=', `${username}-`)
    .where('id', '<', `${username}.`)
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('users').select('users.id').whereRef('users.id', '=', 'sessions.owner_id'))),
    )
    .$if(reuseName, (q) => q.where(sql<string>`lower(owner)`, '<>', username))
    .limit(1)
    .executeTakeFirst();
  return session && { name: session.owner, deleted: true };
}

export function createUsersStore(db: Kysely<StoreDatabase>, dialect: StoreDialect): UsersStore {
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
        await db.transaction().execute(async (trx) => {
          if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${USERNAMES_LOCK})`.execute(trx);
          const clash = await prefixClash(trx, u.username.toLowerCase(), u.reuseName === true);
          if (clash?.deleted && clash.name.toLowerCase() === u.username.toLowerCase())
            throw new SesameStoreError(
              'CONFLICT',
              `the username "${u.username}" belonged to a deleted user whose sessions are kept (their recordings too): policies that name users by name (session/\${aws:username}-*) would give a new "${u.username}" those sessions. Choose another name, or reuse it (--reuse-name, "reuseName": true) only for the same person`,
            );
          if (clash !== undefined) {
            const { name } = clash;
            const [shorter, longer] =
              name.length < u.username.length ? [name, u.username] : [u.username, name];
            const why = `session ids start with the user name and "-", so a policy on session/\${aws:username}-* for ${shorter} would also match ${longer}'s sessions`;
            throw new SesameStoreError(
              'CONFLICT',
              clash.deleted
                ? `the username "${u.username}" cannot be used while the sessions of the deleted user "${name}" are kept (their recordings too): ${why}; choose another name`
                : shorter === u.username
                  ? `the username "${u.username}" cannot be used while "${name}" exists: ${why}; choose another name (one that no user's name starts with, followed by "-")`
                  : `the username "${u.username}" cannot be used while "${name}" exists: ${why}; choose a name that does not start with "${shorter}-" (e.g. "${longer.replace(`${shorter}-`, `${shorter}.`)}")`,
            );
          }
          await trx.insertInto('users').values(row).execute();
        });
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
        // The database's lower() on both sides: SQLite folds ASCII only, so a JavaScript-lowered "Ë" would
        // never equal the stored one.
        .where((eb) => eb(eb.fn('lower', ['email']), '=', eb.fn('lower', [eb.val(email)])))
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

    async setPasswordHash(userId, hash, expected) {
      let update = db.updateTable('users').set({ password_hash: hash }).where('id', '=', userId);
      if (expected !== undefined) update = update.where('password_hash', '=', expected);
      return (await update.executeTakeFirst()).numUpdatedRows > 0n;
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
