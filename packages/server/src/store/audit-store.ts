// The audit trail: append-only (the store offers no way to change or remove an event), read in seq order.
import type { Kysely, Selectable } from 'kysely';
import { parseObject, toJson } from './json-columns.ts';
import { toLimit } from './list-limit.ts';
import type { AuditEventsTable, StoreDatabase } from './schema.ts';
import type { AuditEvent, Store } from './types.ts';

export type AuditStore = Pick<Store, 'appendAudit' | 'listAudit'>;

const DEFAULT_AUDIT_LIST_LIMIT = 500;

export function createAuditStore(db: Kysely<StoreDatabase>): AuditStore {
  return {
    async appendAudit(e) {
      const { seq } = await db
        .insertInto('audit_events')
        .values({
          time: e.time,
          actor: e.actor,
          action: e.action,
          resource: e.resource,
          outcome: e.outcome,
          source_address: e.sourceAddress,
          detail: toJson(e.detail),
        })
        .returning('seq')
        .executeTakeFirstOrThrow();
      return { ...e, detail: parseObject(toJson(e.detail), 'audit_events.detail'), seq: Number(seq) };
    },

    async listAudit(filter) {
      let query = db.selectFrom('audit_events').selectAll();
      if (filter.afterSeq !== undefined) query = query.where('seq', '>', filter.afterSeq);
      if (filter.beforeSeq !== undefined) query = query.where('seq', '<', filter.beforeSeq);
      if (filter.actor !== undefined) query = query.where('actor', '=', filter.actor);
      if (filter.action !== undefined) query = query.where('action', '=', filter.action);
      if (filter.resource !== undefined) query = query.where('resource', '=', filter.resource);
      if (filter.since !== undefined) query = query.where('time', '>=', filter.since);
      if (filter.until !== undefined) query = query.where('time', '<', filter.until);
      const rows = await query
        .orderBy('seq', filter.newestFirst ? 'desc' : 'asc')
        .limit(toLimit(filter.limit, DEFAULT_AUDIT_LIST_LIMIT))
        .execute();
      return rows.map(toAuditEvent);
    },
  };
}

function toAuditEvent(row: Selectable<AuditEventsTable>): AuditEvent {
  return {
    seq: Number(row.seq),
    time: row.time,
    actor: row.actor,
    action: row.action,
    resource: row.resource,
    outcome: row.outcome as AuditEvent['outcome'],
    sourceAddress: row.source_address,
    detail: parseObject(row.detail, 'audit_events.detail'),
  };
}
