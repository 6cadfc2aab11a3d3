// Helpers shared by the access-model stores (groups, policies, permission sets, assignments, user tags).
import type { Kysely, Transaction } from 'kysely';
import type { StoreDatabase } from './schema.ts';
import { SesameStoreError } from './store-error.ts';
import type { PrincipalType } from './types.ts';

/** The tables whose rows have a name that is unique regardless of letter case. */
type NamedTable = 'groups' | 'policies' | 'permission_sets';

/**
 * The CONFLICT for a unique violation on creating a named record: a taken id, or a name taken by another
 * record (compared without regard to case, as the unique index does). Asked after the failed statement, outside
 * its transaction (a PostgreSQL transaction refuses every query after an error).
 */
export async function duplicateNameError(
  db: Kysely<StoreDatabase>,
  table: NamedTable,
  what: string,
  record: { id: string; name: string },
  cause: unknown,
): Promise<SesameStoreError> {
  const rows = await db
    .selectFrom(table)
    .select(['id', 'name'])
    .where((eb) =>
      eb.or([
        eb('id', '=', record.id),
        eb(eb.fn<string>('lower', ['name']), '=', eb.fn<string>('lower', [eb.val(record.name)])),
      ]),
    )
    .execute();
  const sameName = rows.find((row) => row.id !== record.id);
  const message = rows.some((row) => row.id === record.id)
    ? `a ${what} with id "${record.id}" already exists`
    : `the ${what} name "${record.name}" is already taken${sameName ? ` by "${sameName.name}"` : ''} (${what} names are unique regardless of case); choose another`;
  return new SesameStoreError('CONFLICT', message, { cause });
}

const PRINCIPAL_TABLES = { user: 'users', group: 'groups' } as const satisfies Record<PrincipalType, string>;

/**
 * Locks a user's or a group's row for the rest of the transaction and says whether it exists: an UPDATE that
 * changes nothing holds the row lock on PostgreSQL (so deleting that user or group waits for this transaction,
 * and this one waits for a delete in progress) and takes the write lock on SQLite.
 */
export async function lockPrincipal(
  trx: Transaction<StoreDatabase>,
  type: PrincipalType,
  id: string,
): Promise<boolean> {
  const table = PRINCIPAL_TABLES[type];
  if (table === undefined) throw new SesameStoreError('CONFLICT', `unknown principal type "${type}"`);
  const result = await trx
    .updateTable(table)
    .set((eb) => ({ created_at: eb.ref('created_at') }))
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Gathers rows by a key, keeping their order: one query for many parents instead of one per parent. */
export function groupBy<R, V>(
  rows: readonly R[],
  keyOf: (row: R) => string,
  pick: (row: R) => V,
): Map<string, V[]> {
  const grouped = new Map<string, V[]>();
  for (const row of rows) {
    const key = keyOf(row);
    let values = grouped.get(key);
    if (!values) {
      values = [];
      grouped.set(key, values);
    }
    values.push(pick(row));
  }
  return grouped;
}

/** The distinct values in first-seen order. */
export function distinct(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** Quoted names for messages: `"a"`, `"a", "b"`. */
export function quoteList(names: readonly string[]): string {
  return names.map((name) => `"${name}"`).join(', ');
}
