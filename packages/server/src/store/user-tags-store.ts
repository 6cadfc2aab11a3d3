// Principal tags on users (`aws:PrincipalTag/<key>` in policies): set by administrators now, by the identity
// provider later. One row per tag, replaced as a whole.
import type { Kysely } from 'kysely';
import { lockPrincipal } from './access-rows.ts';
import type { StoreDatabase } from './schema.ts';
import type { Store, Tags } from './types.ts';

export type UserTagsStore = Pick<Store, 'setUserTags' | 'getUserTags'>;

/** Rows per INSERT: far below SQLite's and PostgreSQL's bound-parameter limits at three parameters a row. */
const TAG_ROWS_PER_INSERT = 500;

export function createUserTagsStore(db: Kysely<StoreDatabase>): UserTagsStore {
  return {
    // Locking the user's row first makes concurrent replacements of one user's tags queue up instead of
    // colliding; an unknown user is a no-op, as for the other per-user setters.
    async setUserTags(userId, tags, expected) {
      return db.transaction().execute(async (trx) => {
        if (!(await lockPrincipal(trx, 'user', userId))) return false;
        if (expected && !sameTags(await userTags(trx, userId), expected)) return false;
        await trx.deleteFrom('user_tags').where('user_id', '=', userId).execute();
        const rows = Object.entries(tags).map(([key, value]) => ({ user_id: userId, key, value }));
        for (let start = 0; start < rows.length; start += TAG_ROWS_PER_INSERT) {
          await trx
            .insertInto('user_tags')
            .values(rows.slice(start, start + TAG_ROWS_PER_INSERT))
            .execute();
        }
        return true;
      });
    },

    async getUserTags(userId) {
      return userTags(db, userId);
    },
  };
}

async function userTags(db: Kysely<StoreDatabase>, userId: string): Promise<Tags> {
  const rows = await db
    .selectFrom('user_tags')
    .select(['key', 'value'])
    .where('user_id', '=', userId)
    .orderBy('key')
    .execute();
  return toTags(rows);
}

/** The same keys with the same values, in any order. */
export function sameTags(a: Tags, b: Tags): boolean {
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && b[key] === a[key])
  );
}

/** fromEntries defines own properties, so even a tag named "__proto__" stays an ordinary tag. */
export function toTags(rows: readonly { key: string; value: string }[] = []): Tags {
  return Object.fromEntries(rows.map((row) => [row.key, row.value]));
}
