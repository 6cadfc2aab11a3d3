import { randomUUID } from 'node:crypto';
import type { Store } from '../store/index.ts';

/**
 * Administrators are ordinary users whose permission set allows every action: the `Administrators` group
 * holds `AdministratorAccess`. Created on first start; users created as administrators join the group.
 */
export const ADMINISTRATORS = {
  group: 'Administrators',
  permissionSet: 'AdministratorAccess',
  policy: JSON.stringify(
    {
      Version: '2012-10-17',
      Statement: [{ Sid: 'AdministratorAccess', Effect: 'Allow', Action: '*', Resource: '*' }],
    },
    null,
    2,
  ),
  sessionDurationMs: 12 * 3_600_000,
} as const;

type Deps = {
  store: Pick<
    Store,
    | 'getGroupByName'
    | 'createGroup'
    | 'getPermissionSetByName'
    | 'createPermissionSet'
    | 'listAssignments'
    | 'createAssignment'
    | 'addGroupMember'
    | 'listUsers'
  >;
  now?: () => number;
};

/** Idempotent: makes sure the group, permission set and assignment exist; returns a function that adds a user. */
export async function ensureAdministrators({
  store,
  now = Date.now,
}: Deps): Promise<(userId: string) => Promise<void>> {
  let group = await store.getGroupByName(ADMINISTRATORS.group);
  if (!group) {
    group = {
      id: randomUUID(),
      name: ADMINISTRATORS.group,
      description: 'Full access to Sesame',
      createdAt: now(),
    };
    await store.createGroup(group);
  }
  let set = await store.getPermissionSetByName(ADMINISTRATORS.permissionSet);
  if (!set) {
    set = {
      id: randomUUID(),
      name: ADMINISTRATORS.permissionSet,
      description: 'Every action on every resource',
      sessionDurationMs: ADMINISTRATORS.sessionDurationMs,
      inlinePolicy: ADMINISTRATORS.policy,
      policyIds: [],
      createdAt: now(),
      updatedAt: now(),
    };
    await store.createPermissionSet(set);
  }
  const groupId = group.id;
  const assigned = await store.listAssignments({
    permissionSetId: set.id,
    principalType: 'group',
    principalId: groupId,
  });
  if (assigned.length === 0) {
    await store.createAssignment({
      id: randomUUID(),
      permissionSetId: set.id,
      principalType: 'group',
      principalId: groupId,
      createdAt: now(),
    });
  }
  const add = async (userId: string) => {
    await store.addGroupMember(groupId, userId);
  };
  // Accounts created as administrators before groups existed.
  for (const user of await store.listUsers()) if (user.isAdmin) await add(user.id);
  return add;
}
