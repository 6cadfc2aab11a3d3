import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, test } from 'node:test';
import { resourceContext } from '@sesame/policy';
import { createAuthorizer, type Principal } from '../authorize.ts';
import { createLogger } from '../log.ts';
import { openStore, type Store } from '../store/index.ts';
import { TEST_SECRETS } from '../store/test-secrets.ts';
import { createAccessModel } from './access-model.ts';

const ARN = 'arn:aws:ec2:local:000000000000:instance/i-0123456789abcdef0';
const policy = (statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const startWhereProject = (project: string) =>
  policy([
    {
      Effect: 'Allow',
      Action: 'ssm:StartSession',
      Resource: '*',
      Condition: { StringEquals: { 'ssm:resourceTag/project': project } },
    },
  ]);

let store: Store;
let logs: string[];
let model: ReturnType<typeof createAccessModel>;
let authorize: ReturnType<typeof createAuthorizer>['authorize'];
let alice: Principal;

async function permissionSet(
  name: string,
  inlinePolicy: string,
  to: { principalType: 'user' | 'group'; principalId: string },
) {
  const id = randomUUID();
  await store.createPermissionSet({
    id,
    name,
    description: '',
    sessionDurationMs: 3_600_000,
    inlinePolicy,
    policyIds: [],
    createdAt: 0,
    updatedAt: 0,
  });
  await store.createAssignment({ id: randomUUID(), permissionSetId: id, ...to, createdAt: 0 });
  return id;
}

beforeEach(async () => {
  store = await openStore({ secrets: TEST_SECRETS, sqlitePath: ':memory:' });
  logs = [];
  const log = createLogger({ level: 'info', destination: { write: (line: string) => logs.push(line) } });
  model = createAccessModel({ store, log });
  authorize = createAuthorizer({ model }).authorize;
  const user = await store.createUser({
    id: randomUUID(),
    username: 'alice',
    passwordHash: null,
    isAdmin: false,
    createdAt: 0,
  });
  alice = { userId: user.id, username: 'alice', sourceAddress: '192.0.2.1' };
});
afterEach(() => store.close());

test('a user with no permission set may do nothing', async () => {
  await model.reload();
  const decision = authorize(alice, 'ssm:StartSession', ARN, resourceContext({ project: 'Production' }));
  assert.equal(decision.allowed, false);
});

test('a group assignment and the target tags decide; the deciding statement is named', async () => {
  const group = { id: randomUUID(), name: 'ProductionAccess', description: '', createdAt: 0 };
  await store.createGroup(group);
  await store.addGroupMember(group.id, alice.userId);
  await permissionSet('Prod', startWhereProject('Production'), {
    principalType: 'group',
    principalId: group.id,
  });
  await model.reload();
  const prod = authorize(alice, 'ssm:StartSession', ARN, resourceContext({ project: 'Production' }));
  assert.equal(prod.allowed, true);
  assert.equal(prod.decidedBy?.policyId, 'Prod/inline');
  assert.equal(
    authorize(alice, 'ssm:StartSession', ARN, resourceContext({ project: 'Development' })).allowed,
    false,
  );
  assert.deepEqual(model.forUser(alice.userId)?.groups, ['ProductionAccess']);
});

test('principal tags reach ${aws:PrincipalTag/...}; the source address reaches aws:SourceIp', async () => {
  await store.setUserTags(alice.userId, { AppGroupName: 'webserver' });
  await permissionSet(
    'Abac',
    policy([
      {
        Effect: 'Allow',
        Action: 'ssm:StartSession',
        Resource: '*',
        Condition: {
          StringEquals: { 'ssm:resourceTag/APP_GROUP_NAME': '${aws:PrincipalTag/AppGroupName}' },
          IpAddress: { 'aws:SourceIp': '192.0.2.0/24' },
        },
      },
    ]),
    { principalType: 'user', principalId: alice.userId },
  );
  await model.reload();
  assert.equal(
    authorize(alice, 'ssm:StartSession', ARN, resourceContext({ APP_GROUP_NAME: 'webserver' })).allowed,
    true,
  );
  assert.equal(
    authorize(alice, 'ssm:StartSession', ARN, resourceContext({ APP_GROUP_NAME: 'db' })).allowed,
    false,
  );
  const elsewhere = { ...alice, sourceAddress: '198.51.100.7' };
  assert.equal(
    authorize(elsewhere, 'ssm:StartSession', ARN, resourceContext({ APP_GROUP_NAME: 'webserver' })).allowed,
    false,
  );
});

test('a disabled user is denied whatever their policies say', async () => {
  await permissionSet('All', policy([{ Effect: 'Allow', Action: '*', Resource: '*' }]), {
    principalType: 'user',
    principalId: alice.userId,
  });
  await store.setUserDisabled(alice.userId, true);
  await model.reload();
  assert.equal(authorize(alice, 'sesame:ListUsers', '*').allowed, false);
});

test('a stored document that no longer parses denies everything to those who hold it, and is logged', async () => {
  const to = { principalType: 'user', principalId: alice.userId } as const;
  await permissionSet('Allows', policy([{ Effect: 'Allow', Action: 'ssm:*', Resource: '*' }]), to);
  // It may have held a Deny: dropping it would let the Allow beside it grant what it denied.
  await permissionSet('Broken', '{"Version":"2012-10-17","Statement":[{"Effect":"Deny"', to);
  await model.reload();
  const decision = authorize(alice, 'ssm:StartSession', ARN);
  assert.equal(decision.allowed, false);
  assert.match(decision.reason, /Broken\/inline/);
  assert.ok(logs.some((line) => line.includes('does not parse; everyone who holds it is denied everything')));
});

test('changes apply on reload, whole: decisions before it use the old policies', async () => {
  const setId = await permissionSet('Prod', startWhereProject('Production'), {
    principalType: 'user',
    principalId: alice.userId,
  });
  await model.reload();
  await store.updatePermissionSet(setId, { inlinePolicy: startWhereProject('Development'), updatedAt: 1 });
  assert.equal(
    authorize(alice, 'ssm:StartSession', ARN, resourceContext({ project: 'Production' })).allowed,
    true,
  );
  await model.reload();
  assert.equal(
    authorize(alice, 'ssm:StartSession', ARN, resourceContext({ project: 'Production' })).allowed,
    false,
  );
  assert.equal(
    authorize(alice, 'ssm:StartSession', ARN, resourceContext({ project: 'Development' })).allowed,
    true,
  );
});

test('the server itself is always allowed; nobody else is without a policy', async () => {
  await model.reload();
  const system: Principal = { userId: 'system', username: 'system', sourceAddress: null, system: true };
  assert.equal(authorize(system, 'sesame:CreateUser', '*').allowed, true);
  assert.equal(authorize({ ...alice, userId: 'unknown' }, 'sesame:CreateUser', '*').allowed, false);
});
