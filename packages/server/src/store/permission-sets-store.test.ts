import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { SesameStoreError } from './store-error.ts';
import { assignment, group, managedPolicy, permissionSet, projectPolicy, T0 } from './store-test-fixtures.ts';
import { storeTargets } from './store-test-targets.ts';
import type { Store } from './types.ts';

const targets = await storeTargets();

for (const target of targets) {
  describe(`permission sets (${target.dialect})`, { skip: target.skip }, () => {
    let store: Store;
    beforeEach(async () => {
      store = await target.fresh();
      for (const id of ['p-a', 'p-b', 'p-c']) {
        await store.createPolicy(managedPolicy({ id, name: `policy-${id}` }));
      }
    });
    afterEach(() => store.close());
    after(() => target.dispose());

    const production = permissionSet({ policyIds: ['p-c', 'p-a'] });
    const development = permissionSet({
      id: 'ps-development',
      name: 'DevelopmentPermissionSet',
      description:
        'Permission set to access Session Manager limited to all instances with project tag = Development',
      sessionDurationMs: 12 * 3_600_000,
      inlinePolicy: null,
      policyIds: [],
      createdAt: T0 + 1,
      updatedAt: T0 + 2,
    });

    test('createPermissionSet round-trips every field, the policy order included', async () => {
      await store.createPermissionSet(production);
      await store.createPermissionSet(development);
      assert.deepEqual(await store.getPermissionSet('ps-production'), production);
      assert.deepEqual(await store.getPermissionSetByName('DevelopmentPermissionSet'), development);
      assert.equal(await store.getPermissionSetByName('developmentpermissionset'), undefined);
      assert.equal(await store.getPermissionSet('ps-none'), undefined);
      assert.deepEqual(await store.listPermissionSets(), [development, production]);
    });

    test('a policy listed twice is attached once, where it first appears', async () => {
      await store.createPermissionSet(permissionSet({ policyIds: ['p-b', 'p-a', 'p-b'] }));
      assert.deepEqual((await store.getPermissionSet('ps-production'))?.policyIds, ['p-b', 'p-a']);
    });

    test('a session duration beyond 32 bits survives', async () => {
      const long = permissionSet({ sessionDurationMs: 30 * 86_400_000 });
      await store.createPermissionSet(long);
      assert.equal((await store.getPermissionSet(long.id))?.sessionDurationMs, 2_592_000_000);
    });

    test('a taken name (any case) or id is a CONFLICT and writes nothing', async () => {
      await store.createPermissionSet(production);
      await assert.rejects(
        store.createPermissionSet({ ...development, name: 'productionPERMISSIONset', policyIds: ['p-b'] }),
        (error: unknown) =>
          error instanceof SesameStoreError &&
          error.code === 'CONFLICT' &&
          /permission set name "productionPERMISSIONset" is already taken by "ProductionPermissionSet"/.test(
            error.message,
          ),
      );
      await assert.rejects(store.createPermissionSet({ ...development, id: 'ps-production' }), {
        code: 'CONFLICT',
        message: /permission set with id "ps-production" already exists/,
      });
      assert.deepEqual(await store.listPermissionSets(), [production]);
    });

    test('an unknown policy id is a CONFLICT naming it, and nothing is created', async () => {
      await assert.rejects(
        store.createPermissionSet({ ...production, policyIds: ['p-a', 'p-ghost', 'p-phantom'] }),
        {
          name: 'SesameStoreError',
          code: 'CONFLICT',
          message: /no managed policies have the id "p-ghost", "p-phantom"/,
        },
      );
      assert.equal(await store.getPermissionSet('ps-production'), undefined);
      await store.createPermissionSet(production); // the id and the name are still free
    });

    test('updatePermissionSet changes what the patch names; null clears the inline policy', async () => {
      await store.createPermissionSet(production);
      await store.updatePermissionSet('ps-production', { sessionDurationMs: 7_200_000, updatedAt: T0 + 10 });
      const afterDuration = { ...production, sessionDurationMs: 7_200_000, updatedAt: T0 + 10 };
      assert.deepEqual(await store.getPermissionSet('ps-production'), afterDuration, 'policies kept');
      await store.updatePermissionSet('ps-production', {
        description: 'prod',
        inlinePolicy: null,
        policyIds: ['p-b'],
        updatedAt: T0 + 11,
      });
      assert.deepEqual(await store.getPermissionSet('ps-production'), {
        ...afterDuration,
        description: 'prod',
        inlinePolicy: null,
        policyIds: ['p-b'],
        updatedAt: T0 + 11,
      });
      await store.updatePermissionSet('ps-production', {
        inlinePolicy: projectPolicy('Staging'),
        policyIds: [],
        updatedAt: T0 + 12,
      });
      const updated = await store.getPermissionSet('ps-production');
      assert.equal(updated?.inlinePolicy, projectPolicy('Staging'));
      assert.deepEqual(updated?.policyIds, []);
      await store.updatePermissionSet('ps-none', { description: 'x', policyIds: ['p-a'], updatedAt: T0 });
      assert.equal(await store.getPermissionSet('ps-none'), undefined);
    });

    test('updatePermissionSet with an unknown policy id changes nothing at all', async () => {
      await store.createPermissionSet(production);
      await assert.rejects(
        store.updatePermissionSet('ps-production', {
          description: 'changed',
          policyIds: ['p-b', 'p-ghost'],
          updatedAt: T0 + 10,
        }),
        { code: 'CONFLICT', message: /no managed policy has the id "p-ghost".*nothing was changed/ },
      );
      assert.deepEqual(await store.getPermissionSet('ps-production'), production);
    });

    test('concurrent replacements of the policy list: one whole list wins', async () => {
      await store.createPermissionSet(production);
      const lists = [['p-a'], ['p-b', 'p-c'], ['p-c', 'p-b', 'p-a'], []];
      await Promise.all(
        lists.map((policyIds, n) =>
          store.updatePermissionSet('ps-production', { policyIds, updatedAt: T0 + n }),
        ),
      );
      const final = await store.getPermissionSet('ps-production');
      assert.ok(final);
      assert.deepEqual(final.policyIds, lists[final.updatedAt - T0], JSON.stringify(final));
    });

    test('deletePermissionSet removes its attachments and assignments', async () => {
      await store.createGroup(group());
      await store.createPermissionSet(production);
      await store.createPermissionSet({ ...development, policyIds: ['p-a'] });
      await store.createAssignment(assignment({ id: 'as-prod' }));
      await store.createAssignment(assignment({ id: 'as-dev', permissionSetId: 'ps-development' }));
      assert.equal(await store.deletePermissionSet('ps-production'), true);
      assert.equal(await store.deletePermissionSet('ps-production'), false);
      assert.equal(await store.getPermissionSet('ps-production'), undefined);
      assert.deepEqual(
        (await store.listAssignments()).map((a) => a.id),
        ['as-dev'],
      );
      assert.equal(await store.deletePolicy('p-c'), true, 'no longer attached');
      await assert.rejects(store.deletePolicy('p-a'), {
        code: 'CONFLICT',
        message: /DevelopmentPermissionSet/,
      });
      await store.createPermissionSet({ ...production, policyIds: [] });
      assert.deepEqual(
        (await store.getPermissionSet('ps-production'))?.policyIds,
        [],
        'old attachments gone',
      );
    });
  });
}
