// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are spelled ${…} in policy text.
// The policy simulator judges as the server does: a sign-in with MFA, and a session with its owner's tag.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { session } from '../store/store-test-fixtures.ts';
import { startTestServer, type TestServer } from '../test-server.ts';

let ts: TestServer;
let userId: string;
before(async () => {
  ts = await startTestServer();
  userId = (await ts.createUser('sam')).id;
  await ts.grant('sam', 'WithMfaOwnSessions', [
    {
      Effect: 'Allow',
      Action: 'ssm:StartSession',
      Resource: '*',
      Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } },
    },
    {
      Effect: 'Allow',
      Action: 'ssm:TerminateSession',
      Resource: '*',
      Condition: { StringLike: { 'ssm:resourceTag/aws:ssmmessages:session-id': ['${aws:userid}'] } },
    },
  ]);
});
after(() => ts.close());

const simulate = (json: Record<string, unknown>) =>
  ts.api('POST', '/api/v1/policy/simulate', { token: ts.adminToken, json: { username: 'sam', ...json } });

test('a request is judged as one just after MFA, as every sign-in is, unless the context says otherwise', async () => {
  const resource = 'arn:aws:ec2:local:000000000000:instance/i-0123456789abcdef0';
  const fresh = await simulate({ action: 'ssm:StartSession', resource });
  assert.equal(fresh.status, 200, fresh.text);
  assert.equal((fresh.body.decision as { allowed: boolean }).allowed, true, fresh.text);
  assert.match(JSON.stringify(fresh.body.assumed), /signed in with MFA just now/);
  const without = await simulate({
    action: 'ssm:StartSession',
    resource,
    context: { 'aws:MultiFactorAuthPresent': 'false' },
  });
  assert.equal((without.body.decision as { allowed: boolean }).allowed, false, without.text);
});

test("a session is judged with its owner's tag, as TerminateSession is", async () => {
  // (An id that sam's name does not start: only the tag can allow it, not a grant on session/${aws:username}-*.)
  await ts.server.store.createSession(
    session({ id: 'other-0123456789abcdef0', ownerId: userId, owner: 'sam' }),
  );
  const own = await simulate({
    action: 'ssm:TerminateSession',
    resource: 'arn:aws:ssm:local:000000000000:session/other-0123456789abcdef0',
  });
  assert.equal((own.body.decision as { allowed: boolean }).allowed, true, own.text);
  assert.match(JSON.stringify(own.body.assumed), new RegExp(`aws:ssmmessages:session-id = ${userId}`));
  // Someone who may simulate but not see that session is not told it exists, nor whose it is.
  const simon = (await ts.createUser('simon')).token;
  await ts.grant('simon', 'SimulateOnly', [
    { Effect: 'Allow', Action: 'sesame:SimulatePrincipalPolicy', Resource: '*' },
  ]);
  const blind = await ts.api('POST', '/api/v1/policy/simulate', {
    token: simon,
    json: {
      username: 'sam',
      action: 'ssm:TerminateSession',
      resource: 'arn:aws:ssm:local:000000000000:session/other-0123456789abcdef0',
    },
  });
  assert.equal(blind.status, 200, blind.text);
  assert.equal((blind.body.decision as { allowed: boolean }).allowed, false, blind.text);
  assert.doesNotMatch(JSON.stringify(blind.body), new RegExp(userId));
  const unknown = await simulate({
    action: 'ssm:TerminateSession',
    resource: 'arn:aws:ssm:local:000000000000:session/other-0000000000000000f',
  });
  assert.equal((unknown.body.decision as { allowed: boolean }).allowed, false, unknown.text);
});
