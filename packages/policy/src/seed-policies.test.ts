// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are spelled ${…} in policy text.
// Acceptance: the policies of the customer stories, verbatim (packages/policy/fixtures/README.md).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { type CompiledPolicySet, compilePolicies } from './compiled-policy-set.ts';
import { principalContext, resourceContext } from './context-keys.ts';
import { evaluate } from './evaluate.ts';
import { parsePolicy } from './parse-policy.ts';
import type { Policy } from './policy-types.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}.txt`, import.meta.url), 'utf8');

function load(name: string): { policy: Policy; warnings: unknown[] } {
  const result = parsePolicy(fixture(name));
  assert.ok(result.ok, `${name}: ${JSON.stringify(result)}`);
  return result;
}

const ACCOUNT = 'arn:aws:ec2:local:000000000000';
const ec2 = (id: string) => `${ACCOUNT}:instance/i-${id.padStart(17, '0')}`;
const onPrem = (id: string) => `arn:aws:ssm:local:000000000000:managed-instance/mi-${id.padStart(17, '0')}`;
const session = (owner: string) => `arn:aws:ssm:local:000000000000:session/${owner}-0123456789abcdef0`;

type Target = { name: string; arn: string; tags: Record<string, string> };
const FLEET: Target[] = [
  { name: 'prod-server01', arn: ec2('1'), tags: { project: 'Production' } },
  { name: 'dev-server01', arn: ec2('2'), tags: { project: 'Development' } },
  { name: 'untagged', arn: ec2('3'), tags: {} },
  { name: 'prod-lowercase', arn: ec2('4'), tags: { project: 'production' } },
  { name: 'prod-onprem', arn: onPrem('5'), tags: { project: 'Production' } },
  { name: 'dev-onprem', arn: onPrem('6'), tags: { project: 'Development' } },
];

function reachable(set: CompiledPolicySet, username: string): string[] {
  const user = principalContext({ username, userId: `AIDA${username}` });
  return FLEET.filter(
    (t) =>
      evaluate(set, {
        action: 'ssm:StartSession',
        resource: t.arn,
        context: user.extend(resourceContext(t.tags)),
      }).allowed,
  ).map((t) => t.name);
}

describe('AWS guide: ProductionPermissionSet / DevelopmentPermissionSet', () => {
  const sets = Object.fromEntries(
    [
      'production-permission-set',
      'development-permission-set',
      'production-permission-set-on-premises',
      'development-permission-set-on-premises',
    ].map((name) => {
      const { policy, warnings } = load(`004-${name}`);
      assert.deepEqual(warnings, [], name);
      return [name, compilePolicies([{ id: name, policy }])];
    }),
  ) as Record<string, CompiledPolicySet>;
  const production = sets['production-permission-set'] as CompiledPolicySet;
  const development = sets['development-permission-set'] as CompiledPolicySet;
  const productionOnPrem = sets['production-permission-set-on-premises'] as CompiledPolicySet;
  const developmentOnPrem = sets['development-permission-set-on-premises'] as CompiledPolicySet;

  test('testuser01 (ProductionAccess) starts sessions only on instances tagged project=Production', () => {
    assert.deepEqual(reachable(production, 'testuser01'), ['prod-server01']);
    assert.deepEqual(reachable(productionOnPrem, 'testuser01'), ['prod-server01', 'prod-onprem']);
  });

  test('testuser02 (DevelopmentAccess) starts sessions only on instances tagged project=Development', () => {
    assert.deepEqual(reachable(development, 'testuser02'), ['dev-server01']);
    assert.deepEqual(reachable(developmentOnPrem, 'testuser02'), ['dev-server01', 'dev-onprem']);
  });

  test('the decision names the statement and the failed condition', () => {
    const user = principalContext({ username: 'testuser01', userId: 'AIDA1' });
    const allowed = evaluate(productionOnPrem, {
      action: 'ssm:StartSession',
      resource: onPrem('5'),
      context: user.extend(resourceContext({ project: 'Production' })),
    });
    assert.deepEqual(allowed.decidedBy, {
      policyId: 'production-permission-set-on-premises',
      statementIndex: 3,
    });
    const denied = evaluate(
      production,
      {
        action: 'ssm:StartSession',
        resource: ec2('2'),
        context: user.extend(resourceContext({ project: 'Development' })),
      },
      { explain: true },
    );
    assert.equal(denied.effect, 'ImplicitDeny');
    assert.deepEqual(denied.failedConditions, [
      {
        policyId: 'production-permission-set',
        statementIndex: 1,
        operator: 'StringLike',
        key: 'ssm:resourceTag/project',
      },
    ]);
  });

  test('each user terminates only their own sessions (session/${aws:username}-*)', () => {
    for (const set of Object.values(sets)) {
      const as = (username: string, owner: string) =>
        evaluate(set, {
          action: 'ssm:TerminateSession',
          resource: session(owner),
          context: principalContext({ username, userId: 'x' }),
        }).allowed;
      assert.equal(as('testuser01', 'testuser01'), true);
      assert.equal(as('testuser01', 'testuser02'), false);
      assert.equal(as('testuser0', 'testuser01'), false);
      assert.equal(as('testuser01', 'testuser010'), false);
    }
  });

  test('the read-only actions are allowed on "*"; anything else is an implicit deny', () => {
    const context = principalContext({ username: 'testuser01', userId: 'x' });
    for (const action of [
      'ssm:DescribeSessions',
      'ssm:DescribeInstanceProperties',
      'ec2:DescribeInstances',
      'ssm:GetConnectionStatus',
    ]) {
      assert.equal(evaluate(production, { action, resource: '*', context }).allowed, true, action);
    }
    assert.equal(
      evaluate(production, { action: 'ssm:GetServiceSetting', resource: '*', context }).allowed,
      false,
    );
    assert.equal(
      evaluate(productionOnPrem, { action: 'ssm:GetServiceSetting', resource: '*', context }).allowed,
      true,
    );
    assert.equal(
      evaluate(production, { action: 'ssm:SendCommand', resource: ec2('1'), context }).effect,
      'ImplicitDeny',
    );
  });

  test('the Deny on ssm:ResetServiceSetting / ssm:UpdateServiceSetting beats every Allow', () => {
    const admin = parsePolicy({
      Version: '2012-10-17',
      Statement: { Effect: 'Allow', Action: '*', Resource: '*' },
    });
    assert.ok(admin.ok);
    const { policy } = load('004-production-permission-set-on-premises');
    const set = compilePolicies([
      { id: 'admin', policy: admin.policy },
      { id: 'prod', policy },
    ]);
    for (const action of [
      'ssm:ResetServiceSetting',
      'ssm:UpdateServiceSetting',
      'SSM:updateservicesetting',
    ]) {
      const decision = evaluate(set, { action, resource: 'arn:aws:ssm:local:000000000000:servicesetting/x' });
      assert.equal(decision.effect, 'Deny', action);
      assert.deepEqual(decision.decidedBy, { policyId: 'prod', statementIndex: 1 });
    }
    assert.equal(evaluate(set, { action: 'ssm:GetServiceSetting', resource: '*' }).allowed, true);
  });
});

describe('State Street ABAC', () => {
  const { policy, warnings } = load('000-state-street-abac');
  const set = compilePolicies([{ id: 'pam', policy }]);
  const tags = { AppGroupName: 'webserver', ReleaseId: '1.0', AppId: 'ABC' };
  const instanceTags = { APP_GROUP_NAME: 'webserver', RELEASE_ID: '1.0', APP_ID: 'ABC' };
  const start = (
    s: CompiledPolicySet,
    principalTags: Record<string, string>,
    targetTags: Record<string, string>,
    arn = ec2('1'),
  ) =>
    evaluate(s, {
      action: 'ssm:StartSession',
      resource: arn,
      context: principalContext({
        username: 'herman',
        userId: 'AROAEXAMPLE:herman',
        tags: principalTags,
      }).extend(resourceContext(targetTags)),
    }).allowed;

  test('the trailing space in "ssm:resourceTag/APP_ID " is a warning, and the key still works', () => {
    assert.equal(warnings.length, 1);
    assert.deepEqual(warnings[0], {
      path: '$.Statement[0].Condition.StringEquals["ssm:resourceTag/APP_ID "]',
      message: 'condition key has surrounding spaces; it is matched as "ssm:resourceTag/APP_ID"',
      line: 16,
      column: 21,
    });
  });

  test('StartSession only where APP_GROUP_NAME / RELEASE_ID / APP_ID equal the principal tags', () => {
    assert.equal(start(set, tags, instanceTags), true);
    assert.equal(start(set, tags, instanceTags, onPrem('1')), true);
    assert.equal(start(set, tags, { ...instanceTags, APP_ID: 'ABD' }), false);
    assert.equal(start(set, tags, { ...instanceTags, RELEASE_ID: '1.1' }), false);
    assert.equal(start(set, tags, { ...instanceTags, APP_GROUP_NAME: 'WebServer' }), false);
    assert.equal(start(set, tags, { APP_GROUP_NAME: 'webserver', RELEASE_ID: '1.0' }), false);
    assert.equal(start(set, tags, instanceTags, 'arn:aws:s3:::bucket/x'), false);
  });

  test('a missing principal tag never matches, not even an instance missing the same tag', () => {
    const { AppId: _, ...noAppId } = tags;
    const { APP_ID: __, ...noAppIdTag } = instanceTags;
    assert.equal(start(set, noAppId, instanceTags), false);
    assert.equal(start(set, noAppId, noAppIdTag), false);
    assert.equal(start(set, noAppId, { ...instanceTags, APP_ID: '${aws:PrincipalTag/AppId}' }), false);
    assert.equal(start(set, noAppId, { ...instanceTags, APP_ID: '' }), false);
  });

  test('users terminate only the sessions tagged with their user id', () => {
    const terminate = (userId: string, owner: string) =>
      evaluate(set, {
        action: 'ssm:TerminateSession',
        resource: session('herman'),
        context: principalContext({ username: 'herman', userId }).extend(
          resourceContext({ 'aws:ssmmessages:session-id': owner }),
        ),
      }).allowed;
    assert.equal(terminate('AROAEXAMPLE:herman', 'AROAEXAMPLE:herman'), true);
    assert.equal(terminate('AROAEXAMPLE:herman', 'AROAEXAMPLE:nauman'), false);
  });

  describe('suffixed tag groups: AppGroupName2…n and n statements', () => {
    const GROUPS = 5;
    const text = fixture('000-state-street-abac');
    const parsed = JSON.parse(text) as { Version: string; Statement: Record<string, unknown>[] };
    const [startStatement, terminateStatement] = parsed.Statement;
    const suffixed = Array.from({ length: GROUPS }, (_, i) => {
      const suffix = i === 0 ? '' : String(i + 1);
      const json = JSON.stringify(startStatement).replace(
        /(AppGroupName|ReleaseId|AppId)\}/g,
        `$1${suffix}}`,
      );
      return { ...JSON.parse(json), Sid: `SSMStartSession${suffix}` };
    });
    const result = parsePolicy({ Version: parsed.Version, Statement: [...suffixed, terminateStatement] });
    assert.ok(result.ok, JSON.stringify(result));
    const groupSet = compilePolicies([{ id: 'pam', policy: result.policy }]);
    const group = (n: number) => ({ APP_GROUP_NAME: `group${n}`, RELEASE_ID: `${n}.0`, APP_ID: `APP${n}` });
    const principalTagsFor = (n: number, suffix: string) => ({
      [`AppGroupName${suffix}`]: `group${n}`,
      [`ReleaseId${suffix}`]: `${n}.0`,
      [`AppId${suffix}`]: `APP${n}`,
    });
    const fleet = [
      ...Array.from({ length: 8 }, (_, i) => ({ name: `g${i + 1}`, tags: group(i + 1) })),
      { name: 'mixed-1-2', tags: { ...group(1), APP_ID: 'APP2' } },
      { name: 'mixed-2-3', tags: { ...group(2), RELEASE_ID: '3.0' } },
    ];
    const reach = (principalTags: Record<string, string>) =>
      fleet.filter((t, i) => start(groupSet, principalTags, t.tags, ec2(String(i)))).map((t) => t.name);

    test('a user holding two groups reaches both sets and nothing else', () => {
      assert.deepEqual(reach({ ...principalTagsFor(1, ''), ...principalTagsFor(2, '2') }), ['g1', 'g2']);
      assert.deepEqual(reach({ ...principalTagsFor(3, ''), ...principalTagsFor(7, '5') }), ['g3', 'g7']);
    });

    test('suffixed tags alone grant only their group; no groups grant nothing', () => {
      assert.deepEqual(reach(principalTagsFor(4, '3')), ['g4']);
      assert.deepEqual(reach({}), []);
    });

    test('tags beyond the n statements grant nothing', () => {
      assert.deepEqual(reach(principalTagsFor(6, String(GROUPS + 1))), []);
    });
  });
});
