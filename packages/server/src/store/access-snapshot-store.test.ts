// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are spelled ${…} in policy text.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, afterEach, describe, test } from 'node:test';
import type { StoreQueryEvent } from './store-connection.ts';
import { group, managedPolicy, newUser, permissionSet, projectPolicy, T0 } from './store-test-fixtures.ts';
import { storeTargets } from './store-test-targets.ts';
import type { AccessSnapshot, Assignment, PermissionSet, Store } from './types.ts';

const targets = await storeTargets();

// State Street: one role for everyone, ABAC on the principal's tags; n statements for tag groups 1..n.
const stateStreetPolicy = JSON.stringify({
  Version: '2012-10-17',
  Statement: ['', '2'].flatMap((n) => [
    {
      Sid: `SSMStartSession${n}`,
      Effect: 'Allow',
      Action: 'ssm:StartSession',
      Resource: ['arn:aws:ec2:*:*:instance/*', 'arn:aws:ssm:*:*:managed-instance/*'],
      Condition: {
        StringEquals: {
          'ssm:resourceTag/APP_GROUP_NAME': `\${aws:PrincipalTag/AppGroupName${n}}`,
          'ssm:resourceTag/RELEASE_ID': `\${aws:PrincipalTag/ReleaseId${n}}`,
          'ssm:resourceTag/APP_ID': `\${aws:PrincipalTag/AppId${n}}`,
        },
      },
    },
  ]),
});

/** The AWS guide's two groups and permission sets, plus State Street's ABAC users; returns what it wrote. */
async function buildRealisticModel(store: Store) {
  const users = [
    newUser({ id: 'u-admin', username: 'admin', isAdmin: true, createdAt: T0 }),
    newUser({ id: 'u-01', username: 'testuser01', createdAt: T0 + 1 }),
    newUser({ id: 'u-02', username: 'testuser02', createdAt: T0 + 2 }),
    newUser({ id: 'u-ss1', username: 'jdoe', createdAt: T0 + 3 }),
    newUser({ id: 'u-ss2', username: 'asmith', createdAt: T0 + 4 }),
  ];
  for (const u of users) await store.createUser(u);
  await store.setUserDisabled('u-ss2', true);
  const tags = {
    'u-ss1': {
      AppGroupName: 'webserver',
      AppId: 'ABC',
      ReleaseId: '1.0',
      AppGroupName2: 'database',
      AppId2: 'DEF',
      ReleaseId2: '2.1',
    },
    'u-ss2': { AppGroupName: 'webserver', AppId: 'ABC', ReleaseId: 'expired' },
  };
  for (const [userId, userTags] of Object.entries(tags)) await store.setUserTags(userId, userTags);

  const production = group({ createdAt: T0 + 10 });
  const development = group({
    id: 'g-development',
    name: 'DevelopmentAccess',
    description: 'This user group can manage all development servers.',
    createdAt: T0 + 11,
  });
  await store.createGroup(production);
  await store.createGroup(development);
  await store.addGroupMember('g-production', 'u-01');
  await store.addGroupMember('g-development', 'u-02');
  await store.addGroupMember('g-development', 'u-01');

  const describeAll = managedPolicy({ createdAt: T0 + 20, updatedAt: T0 + 20 });
  const abac = managedPolicy({
    id: 'p-abac',
    name: 'SessionManagerABAC',
    description: 'State Street: reach the servers whose tags match your entitlements',
    document: stateStreetPolicy,
    createdAt: T0 + 21,
    updatedAt: T0 + 21,
  });
  await store.createPolicy(describeAll);
  await store.createPolicy(abac);

  const productionSet = permissionSet({ policyIds: ['p-describe'], createdAt: T0 + 30, updatedAt: T0 + 30 });
  const developmentSet = permissionSet({
    id: 'ps-development',
    name: 'DevelopmentPermissionSet',
    description:
      'Permission set to access Session Manager limited to all instances with project tag = Development',
    inlinePolicy: projectPolicy('Development'),
    createdAt: T0 + 31,
    updatedAt: T0 + 31,
  });
  const abacSet = permissionSet({
    id: 'ps-abac',
    name: 'PrivilegedAccess',
    description: 'firecall access, time bound by the identity provider',
    sessionDurationMs: 4 * 3_600_000,
    inlinePolicy: null,
    policyIds: ['p-abac', 'p-describe'],
    createdAt: T0 + 32,
    updatedAt: T0 + 32,
  });
  for (const p of [productionSet, developmentSet, abacSet]) await store.createPermissionSet(p);

  const assignments: Assignment[] = [
    {
      id: 'as-prod',
      permissionSetId: 'ps-production',
      principalType: 'group',
      principalId: 'g-production',
      createdAt: T0 + 40,
    },
    {
      id: 'as-dev',
      permissionSetId: 'ps-development',
      principalType: 'group',
      principalId: 'g-development',
      createdAt: T0 + 41,
    },
    {
      id: 'as-ss1',
      permissionSetId: 'ps-abac',
      principalType: 'user',
      principalId: 'u-ss1',
      createdAt: T0 + 42,
    },
    {
      id: 'as-ss2',
      permissionSetId: 'ps-abac',
      principalType: 'user',
      principalId: 'u-ss2',
      createdAt: T0 + 43,
    },
  ];
  for (const a of assignments) await store.createAssignment(a);

  const expected: AccessSnapshot = {
    users: [
      { id: 'u-admin', username: 'admin', disabled: false, tags: {} },
      { id: 'u-ss2', username: 'asmith', disabled: true, tags: tags['u-ss2'] },
      { id: 'u-ss1', username: 'jdoe', disabled: false, tags: tags['u-ss1'] },
      { id: 'u-01', username: 'testuser01', disabled: false, tags: {} },
      { id: 'u-02', username: 'testuser02', disabled: false, tags: {} },
    ],
    groups: [development, production],
    memberships: [
      { groupId: 'g-development', userId: 'u-01' },
      { groupId: 'g-development', userId: 'u-02' },
      { groupId: 'g-production', userId: 'u-01' },
    ],
    policies: [describeAll, abac],
    permissionSets: [developmentSet, abacSet, productionSet],
    assignments,
  };
  return expected;
}

for (const target of targets) {
  describe(`access snapshot (${target.dialect})`, { skip: target.skip }, () => {
    let store: Store | undefined;
    afterEach(() => store?.close());
    after(() => target.dispose());

    test('an empty database gives an empty model', async () => {
      store = await target.fresh();
      assert.deepEqual(await store.loadAccessSnapshot(), {
        users: [],
        groups: [],
        memberships: [],
        policies: [],
        permissionSets: [],
        assignments: [],
      });
    });

    test('the AWS guide and State Street model comes back whole, and agrees with the getters', async () => {
      store = await target.fresh();
      const expected = await buildRealisticModel(store);
      const snapshot = await store.loadAccessSnapshot();
      assert.deepEqual(snapshot, expected);
      assert.deepEqual(snapshot.groups, await store.listGroups());
      assert.deepEqual(snapshot.policies, await store.listPolicies());
      assert.deepEqual(snapshot.permissionSets, await store.listPermissionSets());
      assert.deepEqual(snapshot.assignments, await store.listAssignments());
      for (const user of snapshot.users) assert.deepEqual(user.tags, await store.getUserTags(user.id));

      // …and follows the changes: a deleted user takes its memberships, tags and assignments along.
      await store.deleteUser('u-01');
      await store.deleteGroup('g-development');
      const after = await store.loadAccessSnapshot();
      assert.deepEqual(
        after.users.map((u) => u.id),
        ['u-admin', 'u-ss2', 'u-ss1', 'u-02'],
      );
      assert.deepEqual(after.memberships, []);
      assert.deepEqual(
        after.assignments.map((a) => a.id),
        ['as-prod', 'as-ss1', 'as-ss2'],
      );
    });

    test('every snapshot is one point in time, while writers change several tables at once', async () => {
      store = await target.fresh();
      const s = store;
      for (const id of ['p-a', 'p-b', 'p-c']) await s.createPolicy(managedPolicy({ id, name: id }));
      await s.createPermissionSet(permissionSet({ policyIds: ['p-a'], updatedAt: T0 }));
      await s.createGroup(group());
      // Invariants a torn read would break: an even updatedAt goes with ['p-a'], an odd one with ['p-b', 'p-c'];
      // every membership, assignment and tag belongs to a user in the same snapshot.
      const rounds = 30;
      const writers = (async () => {
        for (let n = 1; n <= rounds; n += 1) {
          const policyIds = n % 2 === 0 ? ['p-a'] : ['p-b', 'p-c'];
          await s.updatePermissionSet('ps-production', { policyIds, updatedAt: T0 + n });
          const id = `u-${n}`;
          await s.createUser(newUser({ id, username: `user${n}` }));
          await s.setUserTags(id, { AppId: String(n) });
          await s.addGroupMember('g-production', id);
          await s.createAssignment({
            id: `as-${n}`,
            permissionSetId: 'ps-production',
            principalType: 'user',
            principalId: id,
            createdAt: T0 + n,
          });
          if (n % 3 === 0) await s.deleteUser(`u-${n - 1}`);
        }
      })();
      const snapshots: AccessSnapshot[] = [];
      const readers = Array.from({ length: 3 }, async () => {
        for (let n = 0; n < rounds; n += 1) snapshots.push(await s.loadAccessSnapshot());
      });
      await Promise.all([writers, ...readers]);
      snapshots.push(await s.loadAccessSnapshot());
      for (const snapshot of snapshots) {
        const [set] = snapshot.permissionSets as [PermissionSet];
        const expectedIds = (set.updatedAt - T0) % 2 === 0 ? ['p-a'] : ['p-b', 'p-c'];
        assert.deepEqual(set.policyIds, expectedIds, `updatedAt ${set.updatedAt - T0}`);
        const userIds = new Set(snapshot.users.map((u) => u.id));
        for (const m of snapshot.memberships) assert.ok(userIds.has(m.userId), `membership of ${m.userId}`);
        for (const a of snapshot.assignments)
          assert.ok(userIds.has(a.principalId), `assignment to ${a.principalId}`);
      }
      assert.equal(snapshots.at(-1)?.users.length, rounds - Math.floor(rounds / 3));
    });

    test('1,000 users × 5 tags and 100 groups load in a fixed handful of queries', async (t) => {
      const queries: StoreQueryEvent[] = [];
      let counting = false;
      store = await target.fresh({
        onQuery: (event) => {
          if (counting) queries.push(event);
        },
      });
      const s = store;
      const inBatches = async (count: number, make: (n: number) => Promise<unknown>) => {
        for (let start = 0; start < count; start += 20) {
          await Promise.all(Array.from({ length: Math.min(20, count - start) }, (_, k) => make(start + k)));
        }
      };
      await inBatches(100, (n) => s.createGroup(group({ id: `g-${n}`, name: `team-${n}` })));
      await inBatches(1000, async (n) => {
        const id = `u-${n}`;
        await s.createUser(newUser({ id, username: `user${String(n).padStart(4, '0')}` }));
        await s.setUserTags(id, {
          AppGroupName: `app-${n % 50}`,
          AppId: `A${n % 7}`,
          ReleaseId: `1.${n % 3}`,
          AppGroupName2: `app-${(n + 1) % 50}`,
          Department: `dept-${n % 10}`,
        });
        await s.addGroupMember(`g-${n % 100}`, id);
        await s.addGroupMember(`g-${(n * 7) % 100}`, id);
      });
      for (const id of ['p-a', 'p-b']) await s.createPolicy(managedPolicy({ id, name: id }));
      await inBatches(10, (n) =>
        s.createPermissionSet(permissionSet({ id: `ps-${n}`, name: `set-${n}`, policyIds: ['p-a', 'p-b'] })),
      );
      await inBatches(100, (n) =>
        s.createAssignment({
          id: `as-${n}`,
          permissionSetId: `ps-${n % 10}`,
          principalType: 'group',
          principalId: `g-${n}`,
          createdAt: T0 + n,
        }),
      );

      await s.loadAccessSnapshot(); // warm up (statement caches, connection)
      queries.length = 0;
      counting = true;
      const snapshot = await s.loadAccessSnapshot();
      counting = false;
      // Timed separately (reported, never asserted): the median of a few loads.
      const timesMs: number[] = [];
      for (let n = 0; n < 5; n += 1) {
        const started = performance.now();
        await s.loadAccessSnapshot();
        timesMs.push(performance.now() - started);
      }
      const medianMs = timesMs.sort((a, b) => a - b)[2] ?? Number.NaN;

      assert.equal(snapshot.users.length, 1000);
      assert.ok(snapshot.users.every((u) => Object.keys(u.tags).length === 5));
      assert.equal(snapshot.groups.length, 100);
      const pairs = Array.from({ length: 1000 }, (_, n) => [
        `g-${n % 100}/u-${n}`,
        `g-${(n * 7) % 100}/u-${n}`,
      ]);
      assert.equal(snapshot.memberships.length, new Set(pairs.flat()).size);
      assert.equal(snapshot.permissionSets.length, 10);
      assert.equal(snapshot.assignments.length, 100);
      // One SELECT per table, between the transaction's begin and commit: 10 round trips, however many rows.
      const statements = queries.map((q) => q.sql);
      assert.equal(statements.filter((sql) => sql.startsWith('select ')).length, 8, statements.join('\n'));
      assert.equal(queries.length, 10, statements.join('\n'));
      t.diagnostic(
        `${target.dialect}: loadAccessSnapshot of 1,000 users × 5 tags, 100 groups, ${snapshot.memberships.length} memberships: median ${medianMs.toFixed(1)} ms of 5 loads (fastest ${timesMs[0]?.toFixed(1)} ms), ${queries.length} statements`,
      );
    });
  });
}
