import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError, startTestServer, type TestServer } from '../test-server.ts';

let ts: TestServer;
let carol: string;
let bob: string;

type Row = { id: string; permissionSet: string; principalName: string };
const assignments = async () =>
  (await ts.api('GET', '/api/v1/assignments', { token: ts.adminToken })).body.assignments as Row[];

before(async () => {
  ts = await startTestServer();
  carol = (await ts.createUser('carol')).token;
  bob = (await ts.createUser('bob')).token;
  // carol may remove any assignment except those of AdministratorAccess.
  await ts.grant('carol', 'AssignmentsButAdmin', [
    { Effect: 'Allow', Action: 'sesame:DeleteAssignment', Resource: '*' },
    {
      Effect: 'Deny',
      Action: 'sesame:DeleteAssignment',
      Resource: 'arn:aws:sesame:*:*:permission-set/AdministratorAccess',
    },
  ]);
});
after(() => ts.close());

test('deleting an assignment is judged on its own permission set', async () => {
  const admin = (await assignments()).find((a) => a.permissionSet === 'AdministratorAccess');
  assert.ok(admin, 'the Administrators group holds AdministratorAccess');
  assertError(
    await ts.api('DELETE', `/api/v1/assignments/${admin.id}`, { token: carol }),
    403,
    'FORBIDDEN',
    /not allowed to sesame:DeleteAssignment on arn:aws:sesame:local:000000000000:permission-set\/AdministratorAccess/,
  );
  assert.ok(
    (await assignments()).some((a) => a.id === admin.id),
    'still assigned',
  );

  const bobs = (await assignments()).find((a) => a.principalName === 'bob');
  assert.ok(bobs);
  const deleted = await ts.api('DELETE', `/api/v1/assignments/${bobs.id}`, { token: carol });
  assert.equal(deleted.status, 200, deleted.text);
  assert.ok(!(await assignments()).some((a) => a.id === bobs.id), 'removed');
});

test('an unknown assignment: 404 for someone who may delete, 403 for someone who may not', async () => {
  const unknown = '6f1c1f5e-0000-4000-8000-000000000000';
  assertError(
    await ts.api('DELETE', `/api/v1/assignments/${unknown}`, { token: carol }),
    404,
    'NOT_FOUND',
    /no assignment 6f1c1f5e-/,
  );
  assertError(
    await ts.api('DELETE', `/api/v1/assignments/${unknown}`, { token: bob }),
    403,
    'FORBIDDEN',
    /permission-set\/\*/,
  );
});
