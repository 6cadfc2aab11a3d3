import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { SesameStoreError } from './store-error.ts';
import { managedPolicy, permissionSet, T0 } from './store-test-fixtures.ts';
import { storeTargets } from './store-test-targets.ts';
import type { Store } from './types.ts';

const targets = await storeTargets();

for (const target of targets) {
  describe(`managed policies (${target.dialect})`, { skip: target.skip }, () => {
    let store: Store;
    beforeEach(async () => {
      store = await target.fresh();
    });
    afterEach(() => store.close());
    after(() => target.dispose());

    const describePolicy = managedPolicy();
    // Kept byte for byte, as the administrator pasted it (the AWS guide's text has trailing spaces).
    const pasted = managedPolicy({
      id: 'p-terminate',
      name: 'TerminateOwnSessions',
      description: '',
      document:
        '{ \n    "Version": "2012-10-17", \n    "Statement": [ { "Effect": "Allow", "Action": "ssm:TerminateSession", "Resource": "*" } ] \n} ',
      createdAt: T0 + 1,
      updatedAt: T0 + 1,
    });

    test('createPolicy, then getPolicy, getPolicyByName (exact name) and listPolicies (by name)', async () => {
      await store.createPolicy(pasted);
      await store.createPolicy(describePolicy);
      assert.deepEqual(await store.getPolicy('p-terminate'), pasted);
      assert.deepEqual(await store.getPolicyByName('DescribeSessionsAndInstances'), describePolicy);
      assert.equal(await store.getPolicyByName('describesessionsandinstances'), undefined);
      assert.equal(await store.getPolicy('p-none'), undefined);
      assert.deepEqual(await store.listPolicies(), [describePolicy, pasted]);
    });

    test('a taken policy name is a CONFLICT regardless of case; so is a taken id', async () => {
      await store.createPolicy(describePolicy);
      await assert.rejects(
        store.createPolicy({ ...pasted, name: 'describeSESSIONSandINSTANCES' }),
        (error: unknown) =>
          error instanceof SesameStoreError &&
          error.code === 'CONFLICT' &&
          error.message.includes('already taken by "DescribeSessionsAndInstances"') &&
          error.message.includes('regardless of case'),
      );
      await assert.rejects(store.createPolicy({ ...pasted, id: describePolicy.id }), {
        code: 'CONFLICT',
        message: /policy with id "p-describe" already exists/,
      });
      assert.equal((await store.listPolicies()).length, 1);
    });

    test('updatePolicy changes what the patch names and always updatedAt; unknown ids are a no-op', async () => {
      await store.createPolicy(describePolicy);
      await store.updatePolicy('p-describe', {
        document: '{"Version":"2012-10-17","Statement":[]}',
        updatedAt: T0 + 5,
      });
      assert.deepEqual(await store.getPolicy('p-describe'), {
        ...describePolicy,
        document: '{"Version":"2012-10-17","Statement":[]}',
        updatedAt: T0 + 5,
      });
      await store.updatePolicy('p-describe', { description: 'nothing yet', updatedAt: T0 + 6 });
      assert.deepEqual(await store.getPolicy('p-describe'), {
        ...describePolicy,
        document: '{"Version":"2012-10-17","Statement":[]}',
        description: 'nothing yet',
        updatedAt: T0 + 6,
      });
      await store.updatePolicy('p-none', { description: 'x', updatedAt: T0 });
      assert.equal(await store.getPolicy('p-none'), undefined);
    });

    test('deletePolicy: true once, then false', async () => {
      await store.createPolicy(describePolicy);
      assert.equal(await store.deletePolicy('p-describe'), true);
      assert.equal(await store.deletePolicy('p-describe'), false);
      assert.deepEqual(await store.listPolicies(), []);
    });

    test('deleting an attached policy is a CONFLICT that names the permission sets; detached, it goes', async () => {
      await store.createPolicy(describePolicy);
      await store.createPolicy(pasted);
      await store.createPermissionSet(permissionSet({ policyIds: ['p-describe', 'p-terminate'] }));
      await store.createPermissionSet(
        permissionSet({ id: 'ps-development', name: 'DevelopmentPermissionSet', policyIds: ['p-describe'] }),
      );
      await assert.rejects(store.deletePolicy('p-describe'), (error: unknown) => {
        assert.ok(error instanceof SesameStoreError);
        assert.equal(error.code, 'CONFLICT');
        assert.equal(
          error.message,
          'the policy "DescribeSessionsAndInstances" is attached to the permission sets "DevelopmentPermissionSet", "ProductionPermissionSet"; detach it from them first, then delete the policy',
        );
        return true;
      });
      await assert.rejects(store.deletePolicy('p-terminate'), {
        code: 'CONFLICT',
        message: /attached to the permission set "ProductionPermissionSet"; detach it from it first/,
      });
      assert.deepEqual(await store.getPolicy('p-describe'), describePolicy, 'still there');
      assert.deepEqual((await store.getPermissionSet('ps-production'))?.policyIds, [
        'p-describe',
        'p-terminate',
      ]);

      await store.updatePermissionSet('ps-production', { policyIds: ['p-terminate'], updatedAt: T0 + 1 });
      await store.deletePermissionSet('ps-development');
      assert.equal(await store.deletePolicy('p-describe'), true);
    });
  });
}
