// Session records: one row per shell, command or tunnel, from Connecting to Terminated or Failed.
import type { Kysely, Selectable, Updateable } from 'kysely';
import { toLimit } from './list-limit.ts';
import type { SessionsTable, StoreDatabase } from './schema.ts';
import type { SessionRecord, SessionState, Store } from './types.ts';

export type SessionsStore = Pick<
  Store,
  'createSession' | 'getSession' | 'listSessions' | 'updateSession' | 'failDanglingSessions'
>;

export const ACTIVE_SESSION_STATES = [
  'Connecting',
  'Connected',
  'Terminating',
] as const satisfies SessionState[];
export const ENDED_SESSION_STATES = ['Terminated', 'Failed'] as const satisfies SessionState[];

const DEFAULT_SESSION_LIST_LIMIT = 200;

/** started_at desc, then id desc (ids are ASCII: code-unit order is the byte order the database sorts in). */
function newestFirst(a: Selectable<SessionsTable>, b: Selectable<SessionsTable>): number {
  if (a.started_at !== b.started_at) return Number(b.started_at) - Number(a.started_at);
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export function createSessionsStore(db: Kysely<StoreDatabase>): SessionsStore {
  return {
    async createSession(s) {
      await db
        .insertInto('sessions')
        .values({
          id: s.id,
          owner_id: s.ownerId,
          owner: s.owner,
          instance_id: s.instanceId,
          document: s.document,
          state: s.state,
          reason: s.reason,
          started_at: s.startedAt,
          ended_at: s.endedAt,
          exit_code: s.exitCode,
          recording_key: s.recordingKey,
          client_address: s.clientAddress,
        })
        .execute();
    },

    async getSession(id) {
      const row = await db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toSession(row);
    },

    // Newest first. Each state is read in the order of the (state, started_at, id) index, as one range from the
    // keyset on, and the states are merged here: one query over all of them would sort them whole first.
    async listSessions(filter) {
      const states = filter.state === 'active' ? ACTIVE_SESSION_STATES : ENDED_SESSION_STATES;
      const limit = toLimit(filter.limit, DEFAULT_SESSION_LIST_LIMIT);
      const after = filter.after;
      const perState = await Promise.all(
        states.map((state) => {
          let query = db.selectFrom('sessions').selectAll().where('state', '=', state);
          if (filter.ownerId !== undefined) query = query.where('owner_id', '=', filter.ownerId);
          if (filter.instanceId !== undefined) query = query.where('instance_id', '=', filter.instanceId);
          if (after !== undefined)
            query = query.where((eb) =>
              eb(eb.refTuple('started_at', 'id'), '<', eb.tuple(after.startedAt, after.id)),
            );
          return query.orderBy('started_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
        }),
      );
      return perState.flat().sort(newestFirst).slice(0, limit).map(toSession);
    },

    // Only the fields present in the patch change; `null` clears a field, `undefined` leaves it alone.
    async updateSession(id, patch) {
      const set: Updateable<SessionsTable> = {};
      if (patch.state !== undefined) set.state = patch.state;
      if (patch.reason !== undefined) set.reason = patch.reason;
      if (patch.endedAt !== undefined) set.ended_at = patch.endedAt;
      if (patch.exitCode !== undefined) set.exit_code = patch.exitCode;
      if (patch.recordingKey !== undefined) set.recording_key = patch.recordingKey;
      if (Object.keys(set).length === 0) return;
      await db.updateTable('sessions').set(set).where('id', '=', id).execute();
    },

    async failDanglingSessions(now, reason) {
      const terminated: SessionState = 'Terminated';
      const rows = await db
        .updateTable('sessions')
        .set({ state: terminated, ended_at: now, reason })
        .where('state', 'in', ACTIVE_SESSION_STATES)
        .returning(['id', 'recording_key', 'started_at'])
        .execute();
      return rows.map((row) => ({
        id: row.id,
        recordingKey: row.recording_key,
        startedAt: Number(row.started_at),
      }));
    },
  };
}

function toSession(row: Selectable<SessionsTable>): SessionRecord {
  return {
    id: row.id,
    ownerId: row.owner_id,
    owner: row.owner,
    instanceId: row.instance_id,
    document: row.document,
    state: row.state as SessionState,
    reason: row.reason,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    exitCode: row.exit_code,
    recordingKey: row.recording_key,
    clientAddress: row.client_address,
  };
}
