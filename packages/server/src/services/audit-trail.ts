import type { Audit } from '../audit.ts';
import type { Principal } from '../authorize.ts';
import { SesameError } from '../errors.ts';
import type { Guard } from '../guard.ts';
import type { AuditEvent, Store } from '../store/index.ts';
import { encodeToken, type Page, pageQuery } from './pagination.ts';
import { onlyFields } from './validate.ts';

/** Reading the audit trail is allowed as reading AWS's own trail is: `cloudtrail:LookupEvents` on `*`. */
export const LOOKUP_EVENTS = 'cloudtrail:LookupEvents';
const QUERY = ['actor', 'action', 'resource', 'since', 'until', 'maxResults', 'nextToken'] as const;
const MAX_FILTER_CHARS = 2048;

type Deps = { store: Pick<Store, 'listAudit'>; guard: Guard; audit: Audit };

/** The audit trail, read: newest first, by who, what, on what and when. Every read is itself audited. */
export function createAuditTrail({ store, guard, audit }: Deps) {
  return {
    async list(principal: Principal, query: unknown): Promise<Page<AuditEvent>> {
      guard(principal, LOOKUP_EVENTS, '*');
      const q = (query ?? {}) as Record<string, unknown>;
      onlyFields(q, QUERY);
      const { maxResults, after } = pageQuery(q);
      const filter = {
        actor: text(q, 'actor'),
        action: text(q, 'action'),
        resource: text(q, 'resource'),
        since: time(q, 'since'),
        until: time(q, 'until'),
      };
      const events = await store.listAudit({
        ...filter,
        newestFirst: true,
        limit: maxResults + 1,
        ...(after ? { beforeSeq: seqOf(after) } : {}),
      });
      const audited = await audit({
        actor: principal,
        action: LOOKUP_EVENTS,
        resource: '*',
        outcome: 'succeeded',
        detail: Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined)),
      });
      if (!audited)
        throw new SesameError(
          'UNAVAILABLE',
          'the read could not be written to the audit trail, so it is not served; try again',
        );
      const items = events.slice(0, maxResults);
      const last = items.at(-1);
      return {
        items,
        ...(events.length > maxResults && last ? { nextToken: encodeToken([-last.seq]) } : {}),
      };
    },
  };
}

export type AuditTrail = ReturnType<typeof createAuditTrail>;

function text(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_FILTER_CHARS)
    throw new SesameError('INVALID', `${name} must be given once, as 1 to ${MAX_FILTER_CHARS} characters`);
  return value;
}

/** An ISO 8601 date (midnight UTC) or date and time; a time without a zone is UTC, never the server's own zone. */
const ISO_TIME =
  /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

function time(query: Record<string, unknown>, name: string): number | undefined {
  const value = text(query, name);
  if (value === undefined) return undefined;
  const [, date, clock, zone] = ISO_TIME.exec(value) ?? [];
  const offset = zone === undefined || /^z$/i.test(zone) ? 'Z' : zone.length === 3 ? `${zone}:00` : zone;
  const ms = date ? Date.parse(`${date}T${clock ?? '00:00'}${offset}`) : Number.NaN;
  // Date.parse rolls 2026-02-30 over into March, and takes 24:00: such a time is not one.
  const day = date === undefined ? Number.NaN : Date.parse(`${date}T00:00Z`);
  const real = !Number.isNaN(day) && new Date(day).toISOString().startsWith(date as string);
  if (Number.isNaN(ms) || !real || clock?.startsWith('24'))
    throw new SesameError(
      'INVALID',
      `${name} must be a date and time in ISO 8601, e.g. 2026-11-22T18:00:00Z (without a zone it is UTC)`,
    );
  return ms;
}

/** The page token holds the last event's seq, negated (newest first). */
function seqOf(after: readonly (string | number)[]): number {
  const [key] = after;
  if (after.length !== 1 || typeof key !== 'number' || !Number.isSafeInteger(key) || key > 0)
    throw new SesameError(
      'INVALID',
      'nextToken is not one this listing gave out: pass the nextToken of the previous page as it was',
    );
  return -key;
}
