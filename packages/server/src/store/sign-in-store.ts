// Sign-in sessions, short-lived sign-in state (flows), one-time keys, remembered contexts and failure counters.
import { type Kysely, type Selectable, sql } from 'kysely';
import { parseObject, toJson } from './json-columns.ts';
import type { AuthFlowsTable, SignInSessionsTable, StoreDatabase } from './schema.ts';
import { isUniqueViolation } from './store-error.ts';
import type { AuthFlow, SignInSession, Store } from './types.ts';

export type SignInStore = Pick<
  Store,
  | 'findTokenSession'
  | 'createSignInSession'
  | 'getSignInSession'
  | 'listSignInSessions'
  | 'revokeSignInSession'
  | 'revokeUserSignInSessions'
  | 'findRefresh'
  | 'rotateRefresh'
  | 'createFlow'
  | 'getFlow'
  | 'updateFlow'
  | 'replaceFlowData'
  | 'takeFlow'
  | 'reserveFlowAttempt'
  | 'purgeExpiredSignInState'
  | 'consumeOnce'
  | 'rememberSignInContext'
  | 'getSignInContext'
  | 'forgetSignInContexts'
  | 'forgetSignInDevice'
  | 'getThrottle'
  | 'putThrottle'
  | 'recordThrottleFailure'
  | 'releaseThrottleFailure'
  | 'clearThrottle'
>;

export function createSignInStore(db: Kysely<StoreDatabase>): SignInStore {
  return {
    async findTokenSession(tokenHash) {
      const row = await db
        .selectFrom('api_tokens as t')
        .leftJoin('sign_in_sessions as s', 's.id', 't.session_id')
        .select([
          't.token_hash',
          't.user_id as token_user_id',
          't.created_at as token_created_at',
          't.expires_at as token_expires_at',
          't.session_id',
        ])
        .select([
          's.id',
          's.user_id',
          's.method',
          's.provider_id',
          's.mfa_at',
          's.mfa_method',
          's.source_address',
          's.client',
          's.created_at',
          's.expires_at',
          's.revoked_at',
        ])
        .where('t.token_hash', '=', tokenHash)
        .executeTakeFirst();
      if (!row) return undefined;
      const token = {
        tokenHash: row.token_hash,
        userId: row.token_user_id,
        createdAt: row.token_created_at,
        expiresAt: row.token_expires_at,
        sessionId: row.session_id,
      };
      const session =
        row.id === null
          ? undefined
          : toSession({
              id: row.id,
              user_id: row.user_id as string,
              method: row.method as string,
              provider_id: row.provider_id,
              mfa_at: row.mfa_at,
              mfa_method: row.mfa_method,
              source_address: row.source_address,
              client: row.client as string,
              created_at: row.created_at as number,
              expires_at: row.expires_at as number,
              revoked_at: row.revoked_at,
            });
      return { token, session };
    },

    async createSignInSession(s) {
      await db
        .insertInto('sign_in_sessions')
        .values({
          id: s.id,
          user_id: s.userId,
          method: s.method,
          provider_id: s.providerId,
          mfa_at: s.mfaAt,
          mfa_method: s.mfaMethod,
          source_address: s.sourceAddress,
          client: s.client,
          created_at: s.createdAt,
          expires_at: s.expiresAt,
          revoked_at: null,
          refresh_hash: s.refreshHash,
          previous_refresh_hash: null,
          parent_id: s.parentId ?? null,
          device_hash: s.deviceHash ?? null,
        })
        .execute();
    },

    async getSignInSession(id) {
      const row = await db.selectFrom('sign_in_sessions').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toSession(row);
    },

    async listSignInSessions(userId) {
      const rows = await db
        .selectFrom('sign_in_sessions')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('created_at', 'desc')
        .execute();
      return rows.map(toSession);
    },

    async revokeSignInSession(id, now) {
      return db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('sign_in_sessions')
          .set({ revoked_at: now, refresh_hash: null })
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        // With it, the CLI sign-ins handed off from it (a browser approved them).
        await trx
          .updateTable('sign_in_sessions')
          .set({ revoked_at: now, refresh_hash: null })
          .where('parent_id', '=', id)
          .where('revoked_at', 'is', null)
          .execute();
        const children = trx.selectFrom('sign_in_sessions').select('id').where('parent_id', '=', id);
        await trx
          .deleteFrom('api_tokens')
          .where((eb) => eb.or([eb('session_id', '=', id), eb('session_id', 'in', children)]))
          .execute();
        return result.numUpdatedRows > 0n;
      });
    },

    async revokeUserSignInSessions(userId, now) {
      return db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('sign_in_sessions')
          .set({ revoked_at: now, refresh_hash: null })
          .where('user_id', '=', userId)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        await trx.deleteFrom('api_tokens').where('user_id', '=', userId).execute();
        // Sign-ins under way too (a second factor or an enrolment still to come, a CLI hand-off not yet collected):
        // one begun with a password just reset must not finish afterwards.
        await trx.deleteFrom('auth_flows').where('user_id', '=', userId).execute();
        return Number(result.numUpdatedRows);
      });
    },

    async findRefresh(refreshHash) {
      const current = await db
        .selectFrom('sign_in_sessions')
        .selectAll()
        .where('refresh_hash', '=', refreshHash)
        .executeTakeFirst();
      if (current) return { session: toSession(current), reused: false };
      const spent = await db
        .selectFrom('used_refresh_tokens')
        .innerJoin('sign_in_sessions', 'sign_in_sessions.id', 'used_refresh_tokens.session_id')
        .selectAll('sign_in_sessions')
        .where('used_refresh_tokens.hash', '=', refreshHash)
        .executeTakeFirst();
      if (!spent) return undefined;
      const last = spent.previous_refresh_hash === refreshHash && spent.refresh_hash !== null;
      return {
        session: toSession(spent),
        reused: true,
        ...(last ? { rotatedTo: spent.refresh_hash as string } : {}),
      };
    },

    async rotateRefresh(sessionId, oldHash, newHash) {
      return db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('sign_in_sessions')
          .set({ refresh_hash: newHash, previous_refresh_hash: oldHash })
          .where('id', '=', sessionId)
          .where('refresh_hash', '=', oldHash)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        if (result.numUpdatedRows === 0n) return false;
        await trx
          .insertInto('used_refresh_tokens')
          .values({ hash: oldHash, session_id: sessionId, used_at: Date.now() })
          .execute();
        return true;
      });
    },

    async createFlow(f) {
      await db
        .insertInto('auth_flows')
        .values({
          id_hash: f.idHash,
          kind: f.kind,
          user_id: f.userId,
          data: toJson(f.data),
          attempts: f.attempts,
          created_at: f.createdAt,
          expires_at: f.expiresAt,
        })
        .execute();
    },

    async getFlow(idHash) {
      const row = await db
        .selectFrom('auth_flows')
        .selectAll()
        .where('id_hash', '=', idHash)
        .executeTakeFirst();
      return row && toFlow(row);
    },

    async updateFlow(idHash, patch) {
      await db
        .updateTable('auth_flows')
        .set({
          ...(patch.data === undefined ? {} : { data: toJson(patch.data) }),
          ...(patch.attempts === undefined ? {} : { attempts: patch.attempts }),
        })
        .where('id_hash', '=', idHash)
        .execute();
    },

    async replaceFlowData(idHash, expected, data) {
      const result = await db
        .updateTable('auth_flows')
        .set({ data: toJson(data) })
        .where('id_hash', '=', idHash)
        .where('data', '=', toJson(expected))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async reserveFlowAttempt(idHash, max, now) {
      const row = await db
        .updateTable('auth_flows')
        .set({ attempts: sql`attempts + 1` })
        .where('id_hash', '=', idHash)
        .where('attempts', '<', max)
        .where('expires_at', '>', now)
        .returning('attempts')
        .executeTakeFirst();
      return row?.attempts;
    },

    async takeFlow(idHash) {
      const row = await db
        .deleteFrom('auth_flows')
        .where('id_hash', '=', idHash)
        .returningAll()
        .executeTakeFirst();
      return row && toFlow(row);
    },

    async purgeExpiredSignInState(now) {
      await db.deleteFrom('auth_flows').where('expires_at', '<=', now).execute();
      await db.deleteFrom('used_once').where('expires_at', '<=', now).execute();
      await db.deleteFrom('mfa_known_contexts').where('expires_at', '<=', now).execute();
      await db
        .deleteFrom('sign_in_throttle')
        .where('window_start', '<=', now - 24 * 3600_000)
        .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', now)]))
        .execute();
      // Tokens die with their session; sessions are kept a day past their end for the record, then go.
      await db.deleteFrom('api_tokens').where('expires_at', '<=', now).execute();
      await db
        .deleteFrom('sign_in_sessions')
        .where('expires_at', '<=', now - 24 * 3600_000)
        .execute();
    },

    async consumeOnce(key, expiresAt) {
      try {
        await db.insertInto('used_once').values({ key, expires_at: expiresAt }).execute();
        return true;
      } catch (error) {
        if (isUniqueViolation(error)) return false;
        throw error;
      }
    },

    async rememberSignInContext(c) {
      await db
        .insertInto('mfa_known_contexts')
        .values({
          user_id: c.userId,
          device_hash: c.deviceHash,
          source_address: c.sourceAddress,
          mfa_at: c.mfaAt,
          expires_at: c.expiresAt,
        })
        .onConflict((oc) =>
          oc.columns(['user_id', 'device_hash']).doUpdateSet({
            source_address: c.sourceAddress,
            mfa_at: c.mfaAt,
            expires_at: c.expiresAt,
          }),
        )
        .execute();
    },

    async getSignInContext(userId, deviceHash) {
      const row = await db
        .selectFrom('mfa_known_contexts')
        .select(['source_address', 'mfa_at', 'expires_at'])
        .where('user_id', '=', userId)
        .where('device_hash', '=', deviceHash)
        .executeTakeFirst();
      return row && { sourceAddress: row.source_address, mfaAt: row.mfa_at, expiresAt: row.expires_at };
    },

    async forgetSignInDevice(sessionId) {
      const session = await db
        .selectFrom('sign_in_sessions')
        .select(['user_id', 'device_hash'])
        .where('id', '=', sessionId)
        .executeTakeFirst();
      if (!session?.device_hash) return;
      await db
        .deleteFrom('mfa_known_contexts')
        .where('user_id', '=', session.user_id)
        .where('device_hash', '=', session.device_hash)
        .execute();
    },

    async forgetSignInContexts(userId) {
      await db.deleteFrom('mfa_known_contexts').where('user_id', '=', userId).execute();
    },

    async getThrottle(key) {
      const row = await db
        .selectFrom('sign_in_throttle')
        .selectAll()
        .where('key', '=', key)
        .executeTakeFirst();
      return (
        row && {
          key: row.key,
          failures: row.failures,
          windowStart: row.window_start,
          lockedUntil: row.locked_until,
        }
      );
    },

    async putThrottle(t) {
      const values = {
        failures: t.failures,
        window_start: t.windowStart,
        locked_until: t.lockedUntil,
      };
      await db
        .insertInto('sign_in_throttle')
        .values({ key: t.key, ...values })
        .onConflict((oc) => oc.column('key').doUpdateSet(values))
        .execute();
    },

    // The counting happens in the database so that concurrent failures (any replica) all count:
    // a window that has passed, or a lockout that has ended, starts the count again at 1.
    async recordThrottleFailure({ key, now, windowMs, limit, lockoutMs }) {
      const t = sql`cast(${now} as bigint)`;
      const fresh = sql`(sign_in_throttle.window_start + ${windowMs} <= ${t} or (sign_in_throttle.locked_until is not null and sign_in_throttle.locked_until <= ${t}))`;
      const failures = sql`(case when ${fresh} then 1 else sign_in_throttle.failures + 1 end)`;
      const row = await db
        .insertInto('sign_in_throttle')
        .values({ key, failures: 1, window_start: now, locked_until: limit <= 1 ? now + lockoutMs : null })
        .onConflict((oc) =>
          oc.column('key').doUpdateSet({
            failures: sql`${failures}`,
            window_start: sql`(case when ${fresh} then ${t} else sign_in_throttle.window_start end)`,
            locked_until: sql`(case when sign_in_throttle.locked_until is not null and sign_in_throttle.locked_until > ${t} then sign_in_throttle.locked_until when ${failures} >= ${limit} then cast(${now + lockoutMs} as bigint) else null end)`,
          }),
        )
        .returningAll()
        .executeTakeFirstOrThrow();
      return {
        key: row.key,
        failures: row.failures,
        windowStart: row.window_start,
        lockedUntil: row.locked_until,
      };
    },

    async releaseThrottleFailure({ key, limit }) {
      // While locked, a count holds at least `limit` failures (a lock is set by the limit-th, and the count only
      // starts again once the lock has ended): one fewer than the limit means the lock needed this failure.
      await db
        .updateTable('sign_in_throttle')
        .set({
          failures: sql`(case when failures > 0 then failures - 1 else 0 end)`,
          locked_until: sql`(case when failures - 1 < ${limit} then null else locked_until end)`,
        })
        .where('key', '=', key)
        .execute();
    },

    async clearThrottle(key, alsoStartingWith) {
      await db
        .deleteFrom('sign_in_throttle')
        .where((eb) =>
          alsoStartingWith
            ? eb.or([
                eb('key', '=', key),
                // substr, not LIKE: user names may hold "_", which LIKE would read as a wildcard.
                eb(sql`substr(key, 1, ${sql.lit(alsoStartingWith.length)})`, '=', alsoStartingWith),
              ])
            : eb('key', '=', key),
        )
        .execute();
    },
  };
}

function toSession(
  row: Omit<
    Selectable<SignInSessionsTable>,
    'refresh_hash' | 'previous_refresh_hash' | 'parent_id' | 'device_hash'
  >,
): SignInSession {
  return {
    id: row.id,
    userId: row.user_id,
    method: row.method === 'sso' ? 'sso' : 'password',
    providerId: row.provider_id,
    mfaAt: row.mfa_at,
    mfaMethod: row.mfa_method,
    sourceAddress: row.source_address,
    client: row.client === 'web' ? 'web' : 'cli',
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}

function toFlow(row: Selectable<AuthFlowsTable>): AuthFlow {
  return {
    idHash: row.id_hash,
    kind: row.kind,
    userId: row.user_id,
    data: parseObject(row.data, 'auth_flows.data'),
    attempts: row.attempts,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}
