import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertError, startTestServer, type TestServer } from '../test-server.ts';

// Malformed input to the access API: a misspelt or missing field is a 400 that names it, never a silent success.
let ts: TestServer;
before(async () => {
  ts = await startTestServer();
  const ok = async (method: string, path: string, json: unknown) => {
    const r = await admin(method, path, json);
    if (r.status !== 200) throw new Error(`${method} ${path}: ${r.text}`);
  };
  await ok('POST', '/api/v1/policies', { name: 'Describe', document: DOCUMENT });
  await ok('POST', '/api/v1/permission-sets', { name: 'Readers', policies: ['Describe'] });
  await ok('POST', '/api/v1/groups', { name: 'Ops' });
  await ok('POST', '/api/v1/users', { username: 'bob' });
});
after(() => ts.close());

const DOCUMENT = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 'ssm:DescribeInstanceProperties', Resource: '*' }],
};
const admin = (method: string, path: string, json?: unknown) =>
  ts.api(method, path, { token: ts.adminToken, ...(json === undefined ? {} : { json }) });

describe('access API: malformed input', () => {
  test('policies: a misspelt field, nothing to change, another name, a bad description', async () => {
    const put = (json: unknown) => admin('PUT', '/api/v1/policies/Describe', json);
    assertError(
      await put({ Document: DOCUMENT }),
      400,
      'INVALID',
      /^unknown field "Document": this request takes/,
    );
    assertError(await put({}), 400, 'INVALID', /^nothing to change: give "document" or "description"/);
    assertError(await put({ name: 'Other', document: DOCUMENT }), 400, 'INVALID', /^name cannot be changed/);
    assertError(
      await put({ description: 7 }),
      400,
      'INVALID',
      /^description must be a string of at most 1024/,
    );
    assertError(
      await admin('POST', '/api/v1/policies', {
        name: 'Long',
        document: DOCUMENT,
        description: 'x'.repeat(1025),
      }),
      400,
      'INVALID',
      /^description must be a string of at most 1024/,
    );
  });

  test('a policy document over the 64 KiB of other requests is taken, up to 1 MiB', async () => {
    const Statement = Array.from({ length: 2000 }, (_, i) => ({
      Sid: `S${i}`,
      Effect: 'Allow',
      Action: 'ssm:DescribeInstanceProperties',
      Resource: `arn:aws:ssm:local:000000000000:managed-instance/mi-${String(i).padStart(17, '0')}`,
    }));
    const document = { Version: '2012-10-17', Statement };
    assert.ok(JSON.stringify(document).length > 200_000);
    const r = await admin('POST', '/api/v1/policies', { name: 'Big', document });
    assert.equal(r.status, 200, r.text.slice(0, 300));
  });

  test('permission sets: a misspelt field, policies that are not names', async () => {
    const put = (json: unknown) => admin('PUT', '/api/v1/permission-sets/Readers', json);
    assertError(await put({ 'inlinePolicy ': DOCUMENT }), 400, 'INVALID', /^unknown field "inlinePolicy "/);
    assertError(await put({ name: 'Readers' }), 400, 'INVALID', /^nothing to change/);
    assertError(
      await put({ policies: [{}] }),
      400,
      'INVALID',
      /^policies must be a list of at most 20 policy names/,
    );
  });

  test('groups, assignments and the simulator: a missing field is named, not looked up as ""', async () => {
    assertError(
      await admin('POST', '/api/v1/groups/Ops/members', {}),
      400,
      'INVALID',
      /^username is required/,
    );
    assertError(
      await admin('POST', '/api/v1/groups/Ops/members', { user: 'bob' }),
      400,
      'INVALID',
      /^unknown field "user"/,
    );
    assertError(
      await admin('POST', '/api/v1/groups', { name: 'G', desc: 'x' }),
      400,
      'INVALID',
      /unknown field "desc"/,
    );
    assertError(await admin('POST', '/api/v1/assignments', {}), 400, 'INVALID', /^permissionSet is required/);
    assertError(
      await admin('POST', '/api/v1/assignments', { permissionSet: 'Readers', principalType: 'group' }),
      400,
      'INVALID',
      /^principalName is required: the name of the group/,
    );
    assertError(
      await admin('POST', '/api/v1/policy/simulate', { action: 'ssm:StartSession' }),
      400,
      'INVALID',
      /^username is required/,
    );
  });

  test('an instance named with a control character (as a shell open could send one) is refused as such', async () => {
    assertError(
      await admin('POST', '/api/v1/policy/simulate', {
        username: 'bob',
        action: 'ssm:StartSession',
        target: 'web\u0001',
      }),
      400,
      'INVALID',
      /^target must be an instance id \(i-… or mi-…\) or an instance name/,
    );
  });

  test('a password reset: sendEmail must be true or false, and nothing else is taken', async () => {
    assertError(
      await admin('POST', '/api/v1/users/bob/reset', { sendEmail: 'true' }),
      400,
      'INVALID',
      /^sendEmail must be true or false/,
    );
    assertError(
      await admin('POST', '/api/v1/users/bob/reset', { sendMail: true }),
      400,
      'INVALID',
      /unknown field/,
    );
  });
});
