// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are spelled ${…} in policy text.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type CompiledPolicySet, compilePolicies, statementsFor } from './compiled-policy-set.ts';
import { principalContext, resourceContext } from './context-keys.ts';
import { evaluate } from './evaluate.ts';
import { evaluatorFor } from './evaluator-for.ts';
import { parsePolicy } from './parse-policy.ts';
import { RequestContext } from './request-context.ts';

const INSTANCE = 'arn:aws:ec2:local:000000000000:instance/i-0123456789abcdef0';

function compile(...statements: unknown[]): CompiledPolicySet {
  const result = parsePolicy({ Version: '2012-10-17', Statement: statements });
  assert.ok(result.ok, JSON.stringify(result));
  return compilePolicies([{ id: 'p', policy: result.policy }]);
}

describe('statementsFor and context layering', () => {
  test('lists the statements that could decide an action', () => {
    const set = compile(
      {
        Sid: 'A',
        Effect: 'Allow',
        Action: 'ssm:StartSession',
        Resource: 'arn:aws:ec2:*:*:instance/*',
        Condition: { StringLike: { 'ssm:resourceTag/project': 'P' } },
      },
      { Sid: 'B', Effect: 'Deny', Action: 'ssm:*', Resource: '*' },
      { Sid: 'C', Effect: 'Allow', Action: 'ec2:DescribeInstances', Resource: '*' },
      { Sid: 'D', Effect: 'Allow', NotAction: 'ec2:*', Resource: '*' },
    );
    assert.deepEqual(
      statementsFor(set, 'ssm:StartSession').map((s) => [s.sid, s.effect, s.conditionKeys, s.allResources]),
      [
        ['A', 'Allow', ['ssm:resourceTag/project'], false],
        ['B', 'Deny', [], true],
        ['D', 'Allow', [], true],
      ],
    );
    assert.deepEqual(
      statementsFor(set, 'EC2:describeinstances').map((s) => s.sid),
      ['C'],
    );
  });

  test('a user context extended per instance', () => {
    const set = compile({
      Effect: 'Allow',
      Action: 'ssm:StartSession',
      Resource: '*',
      Condition: { StringEquals: { 'ssm:resourceTag/team': '${aws:PrincipalTag/team}' } },
    });
    const user = RequestContext.from({ 'aws:PrincipalTag/team': 'red' });
    const red = RequestContext.from({ 'aws:ResourceTag/team': 'red' });
    const blue = RequestContext.from({ 'aws:ResourceTag/team': 'blue' });
    assert.equal(
      evaluate(set, { action: 'ssm:StartSession', resource: INSTANCE, context: user.extend(red) }).allowed,
      true,
    );
    assert.equal(
      evaluate(set, { action: 'ssm:StartSession', resource: INSTANCE, context: user.extend(blue) }).allowed,
      false,
    );
    // The instance context is shared and unchanged by layering.
    assert.equal(red.get('aws:principaltag/team'), undefined);
    assert.equal(user.extend(red).get('aws:resourcetag/team'), 'red');
    assert.equal(user.extend({ 'aws:PrincipalTag/team': 'blue' }).get('aws:principaltag/team'), 'blue');
  });
});

describe('evaluatorFor', () => {
  const groups = Array.from({ length: 30 }, (_, i) => {
    const n = i === 0 ? '' : String(i + 1);
    return {
      Sid: `Group${n || '1'}`,
      Effect: 'Allow',
      Action: 'ssm:StartSession',
      Resource: 'arn:aws:ec2:*:*:instance/*',
      Condition: { StringEquals: { 'ssm:resourceTag/APP_ID': `\${aws:PrincipalTag/AppId${n}}` } },
    };
  });
  const set = compile(...groups, {
    Sid: 'NoWeekend',
    Effect: 'Deny',
    Action: 'ssm:*',
    Resource: '*',
    Condition: { StringEquals: { 'aws:PrincipalTag/blocked': 'yes' } },
  });
  const user = principalContext({ username: 'u', userId: 'u', tags: { AppId: 'A1', AppId7: 'A7' } });
  const fleet = Array.from({ length: 10 }, (_, i) => ({
    arn: `${INSTANCE.slice(0, -1)}${i}`,
    tags: resourceContext({ APP_ID: `A${i}` }),
  }));

  test('decides exactly as evaluate() and says what it set aside', () => {
    const decide = evaluatorFor(set, 'ssm:StartSession', user);
    for (const target of fleet) {
      const listed = decide(target.arn, target.tags);
      const direct = evaluate(set, {
        action: 'ssm:StartSession',
        resource: target.arn,
        context: user.extend(target.tags),
      });
      assert.equal(listed.effect, direct.effect);
      assert.deepEqual(listed.decidedBy, direct.decidedBy);
    }
    assert.deepEqual(
      fleet.filter((t) => decide(t.arn, t.tags).allowed).map((t) => t.tags.get('aws:resourcetag/app_id')),
      ['A1', 'A7'],
    );
    assert.match(
      decide(fleet[3]?.arn ?? '', fleet[3]?.tags).reason,
      /28 more Allow statements cannot apply to this principal/,
    );
  });

  test('a target context with principal keys is evaluated against every statement', () => {
    const decide = evaluatorFor(set, 'ssm:StartSession', user);
    const sneaky = { 'aws:ResourceTag/APP_ID': 'A3', 'aws:PrincipalTag/AppId3': 'A3' };
    assert.equal(decide(INSTANCE, sneaky).allowed, true);
    assert.equal(decide(INSTANCE, { ...sneaky, 'aws:PrincipalTag/blocked': 'yes' }).effect, 'Deny');
  });

  test('a principal-only Deny is decided once for the principal', () => {
    const blocked = principalContext({ username: 'u', userId: 'u', tags: { AppId: 'A1', blocked: 'yes' } });
    const decide = evaluatorFor(set, 'ssm:StartSession', blocked);
    assert.equal(decide(fleet[1]?.arn ?? '', fleet[1]?.tags).effect, 'Deny');
  });

  test('bad input denies', () => {
    const errors: unknown[] = [];
    const reporting = compilePolicies([], { onError: (error) => errors.push(error) });
    assert.equal(
      evaluatorFor(reporting, 'ssm:StartSession', { 'aws:username': 7 } as never)(INSTANCE).effect,
      'Deny',
    );
    assert.equal(evaluatorFor(reporting, '', user)(INSTANCE).effect, 'Deny');
    assert.equal(evaluatorFor(set, 'ssm:StartSession', user)('').effect, 'Deny');
    assert.equal(errors.length, 2);
  });

  test('explain lists the failed conditions of the statements that remain', () => {
    const decide = evaluatorFor(set, 'ssm:StartSession', user);
    const decision = decide(fleet[2]?.arn ?? '', fleet[2]?.tags, { explain: true });
    assert.deepEqual(
      decision.failedConditions?.map((f) => f.sid),
      ['Group1', 'Group7'],
    );
  });
});

describe('the guard index keeps policy order', () => {
  test('the first applicable Deny and Allow decide, as in a scan', () => {
    const statements = [
      {
        Sid: 'AllowTeam',
        Effect: 'Allow',
        Action: '*',
        Resource: '*',
        Condition: { StringEquals: { 'aws:PrincipalTag/team': 'red' } },
      },
      {
        Sid: 'AllowProd',
        Effect: 'Allow',
        Action: '*',
        Resource: '*',
        Condition: { StringLike: { 'ssm:resourceTag/env': 'prod*' } },
      },
      {
        Sid: 'DenyTeam',
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { StringEquals: { 'aws:PrincipalTag/team': 'red' } },
      },
      {
        Sid: 'DenyProd',
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { StringEquals: { 'ssm:resourceTag/env': 'prod' } },
      },
    ];
    const parsed = parsePolicy({ Version: '2012-10-17', Statement: statements });
    assert.ok(parsed.ok);
    const context = { 'aws:PrincipalTag/team': 'red', 'ssm:resourceTag/env': 'prod' };
    for (const indexThreshold of [1, 100]) {
      const set = compilePolicies([{ id: 'p', policy: parsed.policy }], { indexThreshold });
      assert.equal(
        evaluate(set, { action: 'ssm:StartSession', resource: '*', context }).decidedBy?.sid,
        'DenyTeam',
      );
      const allowOnly = compilePolicies(
        [{ id: 'p', policy: { ...parsed.policy, statements: parsed.policy.statements.slice(0, 2) } }],
        { indexThreshold },
      );
      assert.equal(
        evaluate(allowOnly, { action: 'ssm:StartSession', resource: '*', context }).decidedBy?.sid,
        'AllowTeam',
      );
      assert.equal(
        evaluate(allowOnly, {
          action: 'ssm:StartSession',
          resource: '*',
          context: { 'ssm:resourceTag/env': 'production' },
        }).decidedBy?.sid,
        'AllowProd',
      );
      assert.equal(
        evaluate(allowOnly, {
          action: 'ssm:StartSession',
          resource: '*',
          context: { 'ssm:resourceTag/env': 'dev' },
        }).allowed,
        false,
      );
    }
  });
});
