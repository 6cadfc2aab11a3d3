import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { assignment, group, newUser, permissionSet, T0 } from './store-test-fixtures.ts';
import { storeTargets } from './store-test-targets.ts';
import type { Store } from './types.ts';

const targets = await storeTargets();

for (const target of targets) {
  describe(`assignments (${target.dialect})`, { skip: target.skip }, () => {
    let store: Store;
    beforeEach(async () => {
      store = await target.fresh();
      await store.createUser(newUser({ id: 'u-01', username: 'testuser01' }));
      await store.createGroup(group());
      await store.createGroup(group({ id: 'g-development', name: 'DevelopmentAccess' }));
      await store.createPermissionSet(permissionSet());
      await store.createPermissionSet(
        permissionSet({ id: 'ps-development', name: 'DevelopmentPermissionSet' }),
      );
    });
    afterEach(() => store.close());
    after(() => target.dispose());

    const toProduction = assignment({ id: 'as-1', createdAt: T0 + 3 });
    const toDevelopment = assignment({
      id: 'as-2',
      permissionSetId: 'ps-development',
      principalId: 'g-development',
      createdAt: T0 + 1,
    });
    const toUser = assignment({ id: 'as-3', principalType: 'user', principalId: 'u-01', createdAt: T0 + 2 });

    test('createAssignment, listAssignments (by creation time) with every filter, deleteAssignment', async () => {
      for (const a of [toProduction, toDevelopment, toUser]) await store.createAssignment(a);
      assert.deepEqual(await store.listAssignments(), [toDevelopment, toUser, toProduction]);
      assert.deepEqual(await store.listAssignments({}), [toDevelopment, toUser, toProduction]);
      assert.deepEqual(await store.listAssignments({ permissionSetId: 'ps-production' }), [
        toUser,
        toProduction,
      ]);
      assert.deepEqual(await store.listAssignments({ principalType: 'group' }), [
        toDevelopment,
        toProduction,
      ]);
      assert.deepEqual(await store.listAssignments({ principalType: 'user', principalId: 'u-01' }), [toUser]);
      assert.deepEqual(
        await store.listAssignments({ principalType: 'user', principalId: 'g-development' }),
        [],
      );
      assert.deepEqual(
        await store.listAssignments({
          permissionSetId: 'ps-development',
          principalType: 'group',
          principalId: 'g-development',
        }),
        [toDevelopment],
      );
      assert.equal(await store.deleteAssignment('as-1'), true);
      assert.equal(await store.deleteAssignment('as-1'), false);
      assert.deepEqual(await store.listAssignments(), [toDevelopment, toUser]);
    });

    test('the same permission set for the same principal twice is a CONFLICT; so is a taken id', async () => {
      await store.createAssignment(toProduction);
      await assert.rejects(store.createAssignment({ ...toProduction, id: 'as-9' }), {
        name: 'SesameStoreError',
        code: 'CONFLICT',
        message: /the group "g-production" already has the permission set "ps-production"/,
      });
      await assert.rejects(store.createAssignment({ ...toDevelopment, id: 'as-1' }), {
        code: 'CONFLICT',
        message: /assignment with id "as-1" already exists/,
      });
      assert.deepEqual(await store.listAssignments(), [toProduction]);
    });

    test('a user and a group with the same id are different principals', async () => {
      await store.createUser(newUser({ id: 'g-production', username: 'oddly-named' }));
      await store.createAssignment(toProduction);
      await store.createAssignment({ ...toProduction, id: 'as-u', principalType: 'user' });
      assert.equal((await store.listAssignments({ principalId: 'g-production' })).length, 2);
    });

    test('an unknown permission set, user or group is a CONFLICT that says which', async () => {
      await assert.rejects(store.createAssignment({ ...toProduction, permissionSetId: 'ps-ghost' }), {
        code: 'CONFLICT',
        message: /no permission set has the id "ps-ghost"/,
      });
      await assert.rejects(store.createAssignment({ ...toUser, principalId: 'u-ghost' }), {
        code: 'CONFLICT',
        message: /no user has the id "u-ghost"/,
      });
      await assert.rejects(store.createAssignment({ ...toProduction, principalId: 'u-01' }), {
        code: 'CONFLICT',
        message: /no group has the id "u-01"/,
      });
      assert.deepEqual(await store.listAssignments(), []);
    });

    test('assigning while the principal is being deleted never leaves an assignment behind', async () => {
      for (let n = 0; n < 20; n += 1) {
        const userId = `u-race-${n}`;
        const groupId = `g-race-${n}`;
        await store.createUser(newUser({ id: userId, username: `race${n}` }));
        await store.createGroup(group({ id: groupId, name: `race${n}` }));
        const outcomes = await Promise.allSettled([
          store.createAssignment({ ...toUser, id: `as-u${n}`, principalId: userId }),
          store.deleteUser(userId),
          store.createAssignment({ ...toProduction, id: `as-g${n}`, principalId: groupId }),
          store.deleteGroup(groupId),
        ]);
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected')
            assert.match(String(outcome.reason), /no (user|group) has the id/);
        }
        assert.deepEqual(await store.listAssignments({ principalId: userId }), []);
        assert.deepEqual(await store.listAssignments({ principalId: groupId }), []);
      }
    });
  });
}
