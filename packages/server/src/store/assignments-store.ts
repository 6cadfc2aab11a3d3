// Assignments: a permission set given to a user or to a group. A principal holds a permission set at most once.
// The principal is not a foreign key (it is one of two tables), so creating an assignment checks it under a
// lock and deleting a user or group deletes its assignments in the same transaction.
import type { Kysely, Selectable } from 'kysely';
import { lockPrincipal } from './access-rows.ts';
import type { AssignmentsTable, StoreDatabase } from './schema.ts';
import { isForeignKeyViolation, isUniqueViolation, SesameStoreError } from './store-error.ts';
import type { Assignment, PrincipalType, Store } from './types.ts';

export type AssignmentsStore = Pick<Store, 'createAssignment' | 'deleteAssignment' | 'listAssignments'>;

export function createAssignmentsStore(db: Kysely<StoreDatabase>): AssignmentsStore {
  return {
    async createAssignment(a) {
      try {
        await db.transaction().execute(async (trx) => {
          if (!(await lockPrincipal(trx, a.principalType, a.principalId))) {
            throw new SesameStoreError(
              'CONFLICT',
              `cannot assign the permission set: no ${a.principalType} has the id "${a.principalId}"; check the id (list ${a.principalType}s to find it)`,
            );
          }
          await trx
            .insertInto('assignments')
            .values({
              id: a.id,
              permission_set_id: a.permissionSetId,
              principal_type: a.principalType,
              principal_id: a.principalId,
              created_at: a.createdAt,
            })
            .execute();
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw await duplicateAssignmentError(db, a, error);
        if (isForeignKeyViolation(error)) {
          throw new SesameStoreError(
            'CONFLICT',
            `cannot assign the permission set: no permission set has the id "${a.permissionSetId}"; check the id (list permission sets to find it)`,
            { cause: error },
          );
        }
        throw error;
      }
    },

    async deleteAssignment(id) {
      const result = await db.deleteFrom('assignments').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async listAssignments(filter = {}) {
      let query = db.selectFrom('assignments').selectAll();
      if (filter.id !== undefined) query = query.where('id', '=', filter.id);
      if (filter.permissionSetId !== undefined) {
        query = query.where('permission_set_id', '=', filter.permissionSetId);
      }
      if (filter.principalType !== undefined)
        query = query.where('principal_type', '=', filter.principalType);
      if (filter.principalId !== undefined) query = query.where('principal_id', '=', filter.principalId);
      const rows = await query.orderBy('created_at').orderBy('id').execute();
      return rows.map(toAssignment);
    },
  };
}

async function duplicateAssignmentError(
  db: Kysely<StoreDatabase>,
  a: Assignment,
  cause: unknown,
): Promise<SesameStoreError> {
  const taken = await db.selectFrom('assignments').select('id').where('id', '=', a.id).executeTakeFirst();
  const message = taken
    ? `an assignment with id "${a.id}" already exists`
    : `the ${a.principalType} "${a.principalId}" already has the permission set "${a.permissionSetId}"; nothing to do`;
  return new SesameStoreError('CONFLICT', message, { cause });
}

export function toAssignment(row: Selectable<AssignmentsTable>): Assignment {
  return {
    id: row.id,
    permissionSetId: row.permission_set_id,
    principalType: row.principal_type as PrincipalType,
    principalId: row.principal_id,
    createdAt: row.created_at,
  };
}
