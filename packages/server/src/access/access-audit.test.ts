// Changes of access are on the record with what they set, as CloudTrail keeps a request's parameters: from the
// audit trail alone one can tell who had what access when.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from '../test-server.ts';

let ts: TestServer;
before(async () => {
  ts = await startTestServer();
});
after(() => ts.close());

const admin = (method: string, path: string, json?: unknown) =>
  ts.api(method, path, { token: ts.adminToken, ...(json === undefined ? {} : { json }) });
const lastEvent = async (action: string) => {
  const [event] = await ts.server.store.listAudit({ action, limit: 1 });
  assert.ok(event, `no ${action} event`);
  return event;
};
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

test('policy changes keep the document (or, when large, its SHA-256 and size)', async () => {
  const small = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'ssm:StartSession', Resource: '*' }],
  };
  assert.equal((await admin('POST', '/api/v1/policies', { name: 'Start', document: small })).status, 200);
  const created = await lastEvent('sesame:CreatePolicy');
  const stored = (await ts.server.store.getPolicyByName('Start'))?.document as string;
  assert.deepEqual(JSON.parse(String(created.detail.document)), small);
  assert.equal(created.detail.documentSha256, sha256(stored));

  const wide = {
    Version: '2012-10-17',
    Statement: Array.from({ length: 400 }, (_, i) => ({
      Sid: `S${i}`,
      Effect: 'Allow',
      Action: 'ssm:StartSession',
      Resource: `arn:aws:ec2:*:*:instance/i-${String(i).padStart(17, '0')}`,
    })),
  };
  assert.equal((await admin('PUT', '/api/v1/policies/Start', { document: wide })).status, 200);
  const updated = await lastEvent('sesame:UpdatePolicy');
  const text = (await ts.server.store.getPolicyByName('Start'))?.document as string;
  assert.ok(text.length > 32 * 1024);
  assert.equal(updated.detail.document, undefined);
  assert.equal(updated.detail.documentSha256, sha256(text));
  assert.equal(updated.detail.documentChars, text.length);
});

test('permission-set changes say what they set, and a removed assignment whose it was', async () => {
  const inline = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'ssm:Describe*', Resource: '*' }],
  };
  assert.equal(
    (await admin('POST', '/api/v1/permission-sets', { name: 'Looker', inlinePolicy: inline })).status,
    200,
  );
  assert.deepEqual(
    JSON.parse(String((await lastEvent('sesame:CreatePermissionSet')).detail.inlinePolicy)),
    inline,
  );
  assert.equal(
    (await admin('PUT', '/api/v1/permission-sets/Looker', { sessionDurationMs: 3_600_000 })).status,
    200,
  );
  const updated = await lastEvent('sesame:UpdatePermissionSet');
  assert.deepEqual(updated.detail, { sessionDurationMs: 3_600_000 }, 'only what this update set');
  await ts.createUser('lena');
  const assigned = await admin('POST', '/api/v1/assignments', {
    permissionSet: 'Looker',
    principalType: 'user',
    principalName: 'lena',
  });
  assert.equal(assigned.status, 200, assigned.text);
  const id =
    (assigned.body as { id?: string; assignment?: { id: string } }).assignment?.id ?? assigned.body.id;
  const deleted = await admin('DELETE', `/api/v1/assignments/${id}`);
  assert.ok(deleted.status === 200 || deleted.status === 204, deleted.text);
  const removed = await lastEvent('sesame:DeleteAssignment');
  assert.deepEqual(removed.detail, { assignmentId: id, principalType: 'user', principalName: 'lena' });
  // Deleting the set takes its assignments with it: who lost it is said.
  const again = await admin('POST', '/api/v1/assignments', {
    permissionSet: 'Looker',
    principalType: 'user',
    principalName: 'lena',
  });
  assert.equal(again.status, 200, again.text);
  const dropped = await admin('DELETE', '/api/v1/permission-sets/Looker');
  assert.ok(dropped.status === 200 || dropped.status === 204, dropped.text);
  const setGone = await lastEvent('sesame:DeletePermissionSet');
  assert.deepEqual(setGone.detail.assignments, ['user/lena']);
  assert.deepEqual(JSON.parse(String(setGone.detail.inlinePolicy)), inline);
});
