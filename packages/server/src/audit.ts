import type { Principal } from './authorize.ts';
import type { Logger } from './log.ts';
import type { AuditEvent, Store } from './store/index.ts';

export type AuditInput = {
  actor: Principal | string;
  action: string;
  resource: string;
  outcome: AuditEvent['outcome'];
  sourceAddress?: string | null;
  detail?: Record<string, unknown>;
  /** When it happened, when that was before the event could be written (default: now). */
  at?: number;
};
/** Resolves true once the event is in the audit trail, false when that write failed (and was logged). */
export type Audit = (event: AuditInput) => Promise<boolean>;

/**
 * Appends to the audit trail and mirrors to the log. Never throws: a failed write is logged loudly, and the
 * caller that must not go on without its record (a session start) looks at the answer.
 */
export function createAudit({
  store,
  log,
  now = Date.now,
}: {
  store: Pick<Store, 'appendAudit'>;
  log: Logger;
  now?: () => number;
}): Audit {
  return async (event) => {
    const actor = typeof event.actor === 'string' ? event.actor : event.actor.username;
    const sourceAddress =
      event.sourceAddress ?? (typeof event.actor === 'string' ? null : event.actor.sourceAddress) ?? null;
    const record = {
      time: event.at ?? now(),
      actor,
      action: event.action,
      resource: event.resource,
      outcome: event.outcome,
      sourceAddress,
      detail: event.detail ?? {},
    };
    log.info({ audit: record }, `audit ${record.action} ${record.outcome}`);
    try {
      await store.appendAudit(record);
      return true;
    } catch (error) {
      log.error({ err: error, audit: record }, 'audit write failed');
      return false;
    }
  };
}
