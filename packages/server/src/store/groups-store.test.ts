import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { SesameStoreError } from './store-error.ts';
import { assignment, group, newUser, permissionSet, T0 } from './store-test-fixtures.ts';
import { storeTargets } from './store-test-targets.ts';
import type { Store } from './types.ts';

const targets = await storeTargets();

for (const target of targets) {
  describe(`groups (${target.dialect})`, { skip: target.skip }, () => {
    let store: Store;
    beforeEach(async () => {
      store = await target.fresh();
    });
    afterEach(() => store.close());
    after(() => target.dispose());

    const production = group();
    const development = group({
      id: 'g-development',
      name: 'DevelopmentAccess',
      description: 'This user group can manage all development servers.',
      createdAt: T0 + 1,
    });
    const testuser01 = newUser({ id: 'u-01', username: 'testuser01' });
    const testuser02 = newUser({ id: 'u-02', username: 'testuser02', isAdmin: true });

    test('createGroup, then getGroup and getGroupByName (exact name) find it', async () => {
      await store.createGroup(production);
      assert.deepEqual(await store.getGroup('g-production'), production);
      assert.deepEqual(await store.getGroupByName('ProductionAccess'), production);
      assert.equal(await store.getGroupByName('productionaccess'), undefined);
      assert.equal(await store.getGroup('g-none'), undefined);
      assert.equal(await store.getGroupByName('none'), undefined);
    });

    test('a taken group name is a CONFLICT regardless of case, naming the group that has it', async () => {
      await store.createGroup(production);
      for (const name of ['ProductionAccess', 'PRODUCTIONACCESS', 'productionAccess']) {
        await assert.rejects(store.createGroup({ ...development, name }), (error: unknown) => {
          assert.ok(error instanceof SesameStoreError);
          assert.equal(error.code, 'CONFLICT');
          assert.match(error.message, /group name ".+" is already taken by "ProductionAccess"/);
          return true;
        });
      }
      await assert.rejects(store.createGroup({ ...development, id: 'g-production' }), {
        code: 'CONFLICT',
        message: /id "g-production" already exists/,
      });
      assert.deepEqual(await store.listGroups(), [production]);
    });

    test('listGroups orders by name (byte-wise) then id', async () => {
      await store.createGroup(production);
      await store.createGroup(development);
      await store.createGroup(group({ id: 'g-a', name: 'auditors' }));
      assert.deepEqual(
        (await store.listGroups()).map((g) => g.name),
        ['DevelopmentAccess', 'ProductionAccess', 'auditors'],
      );
    });

    test('updateGroup changes the description only; an empty patch or unknown id changes nothing', async () => {
      await store.createGroup(production);
      await store.createGroup(development);
      await store.updateGroup('g-production', { description: 'prod admins' });
      await store.updateGroup('g-development', {});
      await store.updateGroup('g-none', { description: 'x' });
      assert.deepEqual(await store.listGroups(), [
        development,
        { ...production, description: 'prod admins' },
      ]);
    });

    test('members: add (false when already a member), list both ways, remove', async () => {
      await store.createUser(testuser01);
      await store.createUser(testuser02);
      await store.createGroup(production);
      await store.createGroup(development);
      assert.equal(await store.addGroupMember('g-production', 'u-02'), true);
      assert.equal(await store.addGroupMember('g-production', 'u-01'), true);
      assert.equal(await store.addGroupMember('g-production', 'u-01'), false);
      assert.equal(await store.addGroupMember('g-development', 'u-02'), true);
      assert.deepEqual(await store.listGroupMembers('g-production'), [
        { ...testuser01, disabled: false },
        { ...testuser02, disabled: false },
      ]);
      assert.deepEqual(await store.listUserGroups('u-02'), [development, production]);
      assert.deepEqual(await store.listUserGroups('u-01'), [production]);
      assert.equal(await store.removeGroupMember('g-production', 'u-02'), true);
      assert.equal(await store.removeGroupMember('g-production', 'u-02'), false);
      assert.deepEqual(
        (await store.listGroupMembers('g-production')).map((u) => u.id),
        ['u-01'],
      );
      assert.deepEqual(await store.listGroupMembers('g-none'), []);
      assert.deepEqual(await store.listUserGroups('u-none'), []);
    });

    test('adding an unknown user or to an unknown group is a CONFLICT that says which', async () => {
      await store.createUser(testuser01);
      await store.createGroup(production);
      await assert.rejects(store.addGroupMember('g-production', 'u-ghost'), {
        name: 'SesameStoreError',
        code: 'CONFLICT',
        message: /no user with id "u-ghost"/,
      });
      await assert.rejects(store.addGroupMember('g-ghost', 'u-01'), {
        code: 'CONFLICT',
        message: /no group with id "g-ghost"/,
      });
      await assert.rejects(store.addGroupMember('g-ghost', 'u-ghost'), {
        code: 'CONFLICT',
        message: /no group with id "g-ghost" and no user with id "u-ghost"/,
      });
      assert.deepEqual(await store.listGroupMembers('g-production'), []);
    });

    test('concurrent adds of the same member: exactly one reports true', async () => {
      await store.createUser(testuser01);
      await store.createGroup(production);
      const results = await Promise.all(
        Array.from({ length: 8 }, () => store.addGroupMember('g-production', 'u-01')),
      );
      assert.deepEqual(
        results.filter((added) => added),
        [true],
      );
    });

    test('deleteGroup removes its memberships and its assignments, nothing else', async () => {
      await store.createUser(testuser01);
      await store.createGroup(production);
      await store.createGroup(development);
      await store.createPermissionSet(permissionSet());
      await store.addGroupMember('g-production', 'u-01');
      await store.addGroupMember('g-development', 'u-01');
      await store.createAssignment(assignment({ id: 'as-prod' }));
      await store.createAssignment(assignment({ id: 'as-dev', principalId: 'g-development' }));
      await store.createAssignment(assignment({ id: 'as-user', principalType: 'user', principalId: 'u-01' }));

      assert.equal(await store.deleteGroup('g-production'), true);
      assert.equal(await store.deleteGroup('g-production'), false);
      assert.equal(await store.getGroup('g-production'), undefined);
      assert.deepEqual(await store.listUserGroups('u-01'), [development]);
      assert.deepEqual(
        (await store.listAssignments()).map((a) => a.id),
        ['as-dev', 'as-user'],
      );
      // A new group with the old id starts empty: nothing of the old one survived.
      await store.createGroup(production);
      assert.deepEqual(await store.listGroupMembers('g-production'), []);
      assert.deepEqual(await store.listAssignments({ principalId: 'g-production' }), []);
    });
  });
}
