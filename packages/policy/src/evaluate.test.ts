// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are spelled ${…} in policy text.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type CompiledPolicySet, compilePolicies } from './compiled-policy-set.ts';
import { tagRequestContext } from './context-keys.ts';
import { evaluate } from './evaluate.ts';
import { parsePolicy } from './parse-policy.ts';

const INSTANCE = 'arn:aws:ec2:local:000000000000:instance/i-0123456789abcdef0';

function compile(...statements: unknown[]): CompiledPolicySet {
  const result = parsePolicy({ Version: '2012-10-17', Statement: statements });
  assert.ok(result.ok, JSON.stringify(result));
  return compilePolicies([{ id: 'p', policy: result.policy }]);
}

describe('evaluation logic', () => {
  test('no statement → implicit deny', () => {
    const decision = evaluate(compile(), { action: 'ssm:StartSession', resource: INSTANCE });
    assert.equal(decision.allowed, false);
    assert.equal(decision.effect, 'ImplicitDeny');
    assert.match(decision.reason, /no statement allows ssm:StartSession/);
  });

  test('an explicit Deny beats an Allow, wherever it is', () => {
    const set = compile(
      { Effect: 'Allow', Action: '*', Resource: '*' },
      { Sid: 'NoReset', Effect: 'Deny', Action: 'ssm:Reset*', Resource: '*' },
    );
    const decision = evaluate(set, { action: 'ssm:ResetServiceSetting', resource: '*' });
    assert.equal(decision.effect, 'Deny');
    assert.deepEqual(decision.decidedBy, { policyId: 'p', statementIndex: 1, sid: 'NoReset' });
    assert.match(decision.reason, /explicitly denied by policy "p" \$\.Statement\[1\] \(Sid "NoReset"\)/);
    assert.equal(evaluate(set, { action: 'ssm:GetServiceSetting', resource: '*' }).effect, 'Allow');
  });

  test("AWS's Deny on a team mismatch also denies a principal with no team (a variable with no value is null)", () => {
    // The example of the IAM User Guide, "Policy variables with no value": "Access is explicitly denied when
    // aws:principaltag/Team is not set."
    const set = compile(
      { Effect: 'Allow', Action: 'ssm:StartSession', Resource: '*' },
      {
        Effect: 'Deny',
        Action: 'ssm:StartSession',
        Resource: '*',
        Condition: { StringNotEquals: { 'aws:ResourceTag/Team': '${aws:PrincipalTag/Team}' } },
      },
    );
    const start = (context: Record<string, string>) =>
      evaluate(set, { action: 'ssm:StartSession', resource: INSTANCE, context }).effect;
    assert.equal(start({ 'aws:ResourceTag/Team': 'red', 'aws:PrincipalTag/Team': 'red' }), 'Allow');
    assert.equal(start({ 'aws:ResourceTag/Team': 'red', 'aws:PrincipalTag/Team': 'blue' }), 'Deny');
    assert.equal(start({ 'aws:ResourceTag/Team': 'red' }), 'Deny');
    // No Team tag on the target either: the key is absent, which a negated operator also takes as a mismatch.
    assert.equal(start({}), 'Deny');
  });

  test('a Deny whose condition fails does not apply', () => {
    const set = compile(
      { Effect: 'Allow', Action: '*', Resource: '*' },
      {
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'false' } },
      },
    );
    assert.equal(
      evaluate(set, {
        action: 'ssm:StartSession',
        resource: INSTANCE,
        context: { 'aws:MultiFactorAuthPresent': 'true' },
      }).allowed,
      true,
    );
    assert.equal(
      evaluate(set, {
        action: 'ssm:StartSession',
        resource: INSTANCE,
        context: { 'aws:MultiFactorAuthPresent': 'false' },
      }).effect,
      'Deny',
    );
  });

  test('actions match case-insensitively with * and ?', () => {
    const set = compile({
      Effect: 'Allow',
      Action: ['SSM:Describe*', 'ec2:DescribeInstance?'],
      Resource: '*',
    });
    for (const action of [
      'ssm:DescribeSessions',
      'ssm:describesessions',
      'SSM:DESCRIBEINSTANCEPROPERTIES',
      'ec2:DescribeInstances',
    ]) {
      assert.equal(evaluate(set, { action, resource: '*' }).allowed, true, action);
    }
    for (const action of ['ssm:StartSession', 'ec2:DescribeInstanceStatus', 'ssmx:DescribeSessions', 'ssm']) {
      assert.equal(evaluate(set, { action, resource: '*' }).allowed, false, action);
    }
  });

  test('resources match case-sensitively', () => {
    const set = compile({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:ec2:*:*:instance/*' });
    assert.equal(evaluate(set, { action: 'ssm:StartSession', resource: INSTANCE }).allowed, true);
    assert.equal(
      evaluate(set, { action: 'ssm:StartSession', resource: INSTANCE.replace('instance', 'Instance') })
        .allowed,
      false,
    );
  });

  test('NotAction applies to every other action; NotResource to every other resource', () => {
    const set = compile(
      { Effect: 'Allow', NotAction: 'ssm:Delete*', Resource: '*' },
      {
        Effect: 'Deny',
        Action: '*',
        NotResource: ['arn:aws:ec2:*:*:instance/*', '*:document/*'.replace('*:', 'arn:aws:ssm:*:*:')],
      },
    );
    assert.equal(evaluate(set, { action: 'ssm:StartSession', resource: INSTANCE }).allowed, true);
    assert.equal(evaluate(set, { action: 'ssm:DeleteDocument', resource: INSTANCE }).allowed, false);
    assert.equal(
      evaluate(set, { action: 'ssm:StartSession', resource: 'arn:aws:ssm:r:1:session/x' }).effect,
      'Deny',
    );
  });

  test('conditions AND across keys and operators, OR across values', () => {
    const set = compile({
      Effect: 'Allow',
      Action: 'ssm:StartSession',
      Resource: '*',
      Condition: {
        StringEquals: { 'ssm:resourceTag/project': ['Production', 'Staging'], 'aws:ResourceTag/team': 'red' },
        IpAddress: { 'aws:SourceIp': '10.0.0.0/8' },
      },
    });
    const context = {
      'ssm:resourceTag/project': 'Staging',
      'ssm:resourceTag/team': 'red',
      'aws:SourceIp': '10.1.2.3',
    };
    assert.equal(evaluate(set, { action: 'ssm:StartSession', resource: INSTANCE, context }).allowed, true);
    for (const change of [
      { 'ssm:resourceTag/project': 'Dev' },
      { 'ssm:resourceTag/team': 'blue' },
      { 'aws:SourceIp': '192.0.2.1' },
    ]) {
      assert.equal(
        evaluate(set, { action: 'ssm:StartSession', resource: INSTANCE, context: { ...context, ...change } })
          .allowed,
        false,
      );
    }
  });

  test('variables in resources; an absent variable matches nothing', () => {
    const set = compile({
      Effect: 'Allow',
      Action: 'ssm:TerminateSession',
      Resource: 'arn:aws:ssm:*:*:session/${aws:username}-*',
    });
    const session = 'arn:aws:ssm:local:000000000000:session/alice-0123456789abcdef0';
    const as = (username?: string) =>
      evaluate(set, {
        action: 'ssm:TerminateSession',
        resource: session,
        context: { 'aws:username': username },
      });
    assert.equal(as('alice').allowed, true);
    assert.equal(as('bob').allowed, false);
    assert.equal(as('alic').allowed, false);
    assert.equal(as(undefined).allowed, false);
  });

  test('with Version 2008-10-17 a variable in a resource is literal text', () => {
    const parsed = parsePolicy({
      Version: '2008-10-17',
      Statement: { Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:::b/${aws:username}' },
    });
    assert.ok(parsed.ok);
    const set = compilePolicies([{ id: 'old', policy: parsed.policy }]);
    assert.equal(
      evaluate(set, {
        action: 's3:GetObject',
        resource: 'arn:aws:s3:::b/alice',
        context: { 'aws:username': 'alice' },
      }).allowed,
      false,
    );
    assert.equal(
      evaluate(set, { action: 's3:GetObject', resource: 'arn:aws:s3:::b/${aws:username}' }).allowed,
      true,
    );
  });

  test('explain lists the failed conditions of Allow statements that matched action and resource', () => {
    const set = compile(
      {
        Sid: 'Prod',
        Effect: 'Allow',
        Action: 'ssm:StartSession',
        Resource: '*',
        Condition: { StringLike: { 'ssm:resourceTag/project': 'Production' } },
      },
      { Effect: 'Allow', Action: 'ssm:StartSession', Resource: 'arn:aws:ssm:*:*:managed-instance/*' },
      {
        Effect: 'Allow',
        Action: 'ssm:TerminateSession',
        Resource: '*',
        Condition: { Null: { 'aws:username': 'true' } },
      },
    );
    const request = {
      action: 'ssm:StartSession',
      resource: INSTANCE,
      context: { 'ssm:resourceTag/project': 'Development' },
    };
    const quiet = evaluate(set, request);
    assert.equal(quiet.failedConditions, undefined);
    assert.match(
      quiet.reason,
      /the statement allowing ssm:StartSession on .* \(first: policy "p" \$\.Statement\[0\] \(Sid "Prod"\)\) has a condition that does not hold/,
    );
    const explained = evaluate(set, request, { explain: true });
    assert.deepEqual(explained.failedConditions, [
      {
        policyId: 'p',
        statementIndex: 0,
        sid: 'Prod',
        operator: 'StringLike',
        key: 'ssm:resourceTag/project',
      },
    ]);
  });

  test('policies are combined: ids and statement indexes say which decided', () => {
    const a = parsePolicy({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'ssm:DescribeSessions', Resource: '*' }],
    });
    const b = parsePolicy({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'ec2:*', Resource: '*' },
        { Effect: 'Allow', Action: 'ssm:StartSession', Resource: '*' },
      ],
    });
    assert.ok(a.ok && b.ok);
    const set = compilePolicies([
      { id: 'a', policy: a.policy },
      { id: 'b', policy: b.policy },
    ]);
    assert.deepEqual(evaluate(set, { action: 'ssm:StartSession', resource: INSTANCE }).decidedBy, {
      policyId: 'b',
      statementIndex: 1,
    });
    assert.deepEqual(set.policyIds, ['a', 'b']);
    assert.equal(set.statementCount, 3);
  });
});

test('aws:TagKeys (multivalued) with ForAnyValue / ForAllValues decides in evaluate() as in its explanation', () => {
  const set = compile(
    { Effect: 'Allow', Action: 'ssm:AddTagsToResource', Resource: '*' },
    {
      Effect: 'Deny',
      Action: 'ssm:AddTagsToResource',
      Resource: '*',
      Condition: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['APP_ID', 'RELEASE_ID'] } },
    },
  );
  const decide = (tags: Record<string, string>) => {
    const request = { action: 'ssm:AddTagsToResource', resource: INSTANCE, context: tagRequestContext(tags) };
    const fast = evaluate(set, request).effect;
    assert.equal(evaluate(set, request, { explain: true }).effect, fast, 'explained the same');
    return fast;
  };
  assert.equal(decide({ APP_ID: '1' }), 'Deny');
  assert.equal(decide({ APP_ID: '1', owner: 'ops' }), 'Deny', 'one more tag does not dodge the Deny');
  assert.equal(decide({ owner: 'ops' }), 'Allow');
});
