// Bearer API tokens and one-time setup (invitation) tokens. Only hashes of tokens are ever stored.
import type { Kysely, Selectable } from 'kysely';
import type { ApiTokensTable, StoreDatabase } from './schema.ts';
import type { ApiToken, Store } from './types.ts';

export type TokensStore = Pick<
  Store,
  | 'createApiToken'
  | 'getApiToken'
  | 'deleteApiToken'
  | 'deleteUserApiTokens'
  | 'createSetupToken'
  | 'consumeSetupToken'
  | 'findSetupToken'
  | 'deleteSetupTokensForUser'
>;

export function createTokensStore(db: Kysely<StoreDatabase>): TokensStore {
  return {
    async createApiToken(t) {
      await db
        .insertInto('api_tokens')
        .values({
          token_hash: t.tokenHash,
          user_id: t.userId,
          created_at: t.createdAt,
          expires_at: t.expiresAt,
          session_id: t.sessionId,
        })
        .execute();
    },

    async getApiToken(tokenHash) {
      const row = await db
        .selectFrom('api_tokens')
        .selectAll()
        .where('token_hash', '=', tokenHash)
        .executeTakeFirst();
      return row && toApiToken(row);
    },

    async deleteApiToken(tokenHash) {
      await db.deleteFrom('api_tokens').where('token_hash', '=', tokenHash).execute();
    },

    async deleteUserApiTokens(userId) {
      await db.deleteFrom('api_tokens').where('user_id', '=', userId).execute();
    },

    async createSetupToken(t) {
      await db
        .insertInto('setup_tokens')
        .values({ token_hash: t.tokenHash, user_id: t.userId, expires_at: t.expiresAt, used_at: null })
        .execute();
    },

    // One UPDATE decides: of any number of concurrent callers, exactly one sees the row come back.
    // One statement uses up the link and every other unused link of its user: of two links used at once (an
    // invitation and a reset mail), only one sets the password.
    async consumeSetupToken(tokenHash, now) {
      const row = await db
        .updateTable('setup_tokens')
        .set({ used_at: now })
        .where('used_at', 'is', null)
        .where(
          'user_id',
          '=',
          db
            .selectFrom('setup_tokens')
            .select('user_id')
            .where('token_hash', '=', tokenHash)
            .where('used_at', 'is', null)
            .where('expires_at', '>', now),
        )
        .returning('user_id')
        .executeTakeFirst();
      return row?.user_id;
    },

    async findSetupToken(tokenHash, now) {
      const row = await db
        .selectFrom('setup_tokens')
        .select('user_id')
        .where('token_hash', '=', tokenHash)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return row?.user_id;
    },

    async deleteSetupTokensForUser(userId) {
      await db.deleteFrom('setup_tokens').where('user_id', '=', userId).execute();
    },
  };
}

function toApiToken(row: Selectable<ApiTokensTable>): ApiToken {
  return {
    tokenHash: row.token_hash,
    userId: row.user_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    sessionId: row.session_id,
  };
}
