// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are spelled ${…} in policy text.
// The compiled evaluator against a plain reference (reference-evaluator.ts) on generated policies and requests.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compilePolicies } from './compiled-policy-set.ts';
import { evaluate } from './evaluate.ts';
import { evaluatorFor } from './evaluator-for.ts';
import { parsePolicy } from './parse-policy.ts';
import { type RefContext, referenceEvaluate } from './reference-evaluator.ts';

const ACTIONS = [
  'ssm:StartSession',
  'ssm:TerminateSession',
  'ssm:DescribeSessions',
  'ec2:DescribeInstances',
  'SSM:startsession',
];
const ACTION_PATTERNS = [
  '*',
  'ssm:*',
  'ssm:Start*',
  'ec2:Describe*',
  'ssm:?tartSession',
  'ssm:*Session*',
  'SSM:STARTSESSION',
  'ssm:TerminateSession',
];
const RESOURCES = [
  'arn:aws:ec2:local:000000000000:instance/i-1',
  'arn:aws:ec2:local:000000000000:instance/i-22',
  'arn:aws:ssm:local:000000000000:managed-instance/mi-1',
  'arn:aws:ssm:local:000000000000:session/alice-0001',
  'arn:aws:ssm:local:000000000000:session/bob-0002',
  'arn:aws:ssm:local:000000000000:session/red*-1',
  '*',
];
const RESOURCE_PATTERNS = [
  '*',
  'arn:aws:ec2:*:*:instance/*',
  'arn:aws:ssm:*:*:managed-instance/*',
  'arn:aws:ssm:*:*:session/${aws:username}-*',
  'arn:aws:ssm:*:*:session/${aws:PrincipalTag/team}*',
  "arn:aws:ssm:*:*:session/${aws:PrincipalTag/team, 'red*'}-?",
  'arn:aws:ssm:local:*:*',
  'arn:aws:ec2:local:000000000000:instance/i-?',
  'arn:aws:ssm:*:*:session/${*}',
];

const STRING_VALUES = [
  'red',
  'Red',
  'blue',
  'r*',
  '*e*',
  'r?d',
  '*d',
  '?ed',
  '${aws:PrincipalTag/team}',
  "${aws:PrincipalTag/team, 'red'}",
  '${aws:username}',
  '${*}',
  '',
];
const KEYS_STRING = [
  'aws:username',
  'aws:PrincipalTag/team',
  'ssm:resourceTag/team',
  'aws:ResourceTag/Team ',
  'aws:PrincipalTag/missing',
];
const families = {
  string: {
    operators: [
      'StringEquals',
      'StringNotEquals',
      'StringEqualsIgnoreCase',
      'StringNotEqualsIgnoreCase',
      'StringLike',
      'StringNotLike',
    ],
    keys: KEYS_STRING,
    values: STRING_VALUES,
  },
  numeric: {
    operators: [
      'NumericEquals',
      'NumericNotEquals',
      'NumericLessThan',
      'NumericLessThanEquals',
      'NumericGreaterThan',
      'NumericGreaterThanEquals',
    ],
    keys: ['aws:MultiFactorAuthAge', 'aws:EpochTime'],
    values: ['0', '60', '3600', '1.5', '-1'],
  },
  date: {
    operators: ['DateEquals', 'DateNotEquals', 'DateLessThan', 'DateGreaterThanEquals'],
    keys: ['aws:CurrentTime'],
    values: ['2024-01-01T00:00:00Z', '2024-06-01T12:00:00Z', '1717243200'],
  },
  bool: { operators: ['Bool'], keys: ['aws:MultiFactorAuthPresent'], values: ['true', 'false'] },
  ip: {
    operators: ['IpAddress', 'NotIpAddress'],
    keys: ['aws:SourceIp'],
    values: ['10.0.0.0/8', '10.1.0.0/16', '192.168.1.1', '0.0.0.0/0'],
  },
  arn: {
    operators: ['ArnLike', 'ArnNotLike', 'ArnEquals'],
    keys: ['aws:PrincipalTag/arn'],
    values: ['arn:aws:iam::*:role/*', 'arn:aws:iam::1:role/${aws:username}', 'arn:*:*:*:*:*'],
  },
  null: { operators: ['Null'], keys: [...KEYS_STRING, 'aws:SourceIp'], values: ['true', 'false'] },
} as const;

const condition = fc.constantFrom(...(Object.keys(families) as (keyof typeof families)[])).chain((family) => {
  const f = families[family];
  const qualifier =
    family === 'null' ? fc.constant('') : fc.constantFrom('', '', 'ForAnyValue:', 'ForAllValues:');
  const ifExists = family === 'null' ? fc.constant('') : fc.constantFrom('', '', 'IfExists');
  return fc.record({
    operator: fc
      .tuple(qualifier, fc.constantFrom(...f.operators), ifExists)
      .map(([q, o, i]) => `${q}${o}${i}`),
    key: fc.constantFrom(...f.keys),
    values: fc.array(fc.constantFrom(...f.values), { minLength: 1, maxLength: 3 }),
  });
});

const statement = fc.record(
  {
    Effect: fc.constantFrom('Allow', 'Allow', 'Deny'),
    actions: fc.tuple(
      fc.boolean(),
      fc.array(fc.constantFrom(...ACTION_PATTERNS), { minLength: 1, maxLength: 3 }),
    ),
    resources: fc.tuple(
      fc.boolean(),
      fc.array(fc.constantFrom(...RESOURCE_PATTERNS), { minLength: 1, maxLength: 3 }),
    ),
    conditions: fc.array(condition, { maxLength: 3 }),
  },
  { requiredKeys: ['Effect', 'actions', 'resources', 'conditions'] },
);

const policy = fc
  .record({
    Version: fc.constantFrom('2012-10-17', '2012-10-17', '2008-10-17'),
    statements: fc.array(statement, { minLength: 1, maxLength: 6 }),
  })
  .map(({ Version, statements }) => ({
    Version,
    Statement: statements.map((s) => {
      const condition: Record<string, Record<string, string[]>> = {};
      for (const c of s.conditions) {
        const block = condition[c.operator] ?? {};
        block[c.key] = c.values;
        condition[c.operator] = block;
      }
      return {
        Effect: s.Effect,
        [s.actions[0] ? 'NotAction' : 'Action']: s.actions[1],
        [s.resources[0] ? 'NotResource' : 'Resource']: s.resources[1],
        ...(s.conditions.length > 0 ? { Condition: condition } : {}),
      };
    }),
  }));

const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const context = fc
  .record({
    'aws:username': optional(fc.constantFrom('alice', 'bob', 'red')),
    'aws:PrincipalTag/team': optional(
      fc.oneof(fc.constantFrom('red', 'RED', 'blue', 'red*', ''), fc.constant(['red', 'blue'])),
    ),
    'ssm:resourceTag/team': optional(
      fc.oneof(
        fc.constantFrom('red', 'Red', 'blue', '*', 'r?d', '*d', '?ed', 'red*'),
        fc.constantFrom(['red'], ['red', 'blue'], []),
      ),
    ),
    'aws:MultiFactorAuthAge': optional(
      fc.oneof(fc.constantFrom('0', '60', '3600', '7200', '1.5', 'x'), fc.constant(['30', '4000'])),
    ),
    'aws:EpochTime': optional(fc.constantFrom('1704067200', '1717243200')),
    'aws:CurrentTime': optional(
      fc.constantFrom('2024-01-01T00:00:00Z', '2024-03-01T00:00:00Z', '2024-06-01T12:00:00Z', 'soon'),
    ),
    'aws:MultiFactorAuthPresent': optional(fc.constantFrom('true', 'false', 'TRUE', 'maybe')),
    'aws:SourceIp': optional(
      fc.oneof(
        fc.constantFrom('10.1.2.3', '10.2.0.1', '192.168.1.1', '8.8.8.8', 'nope'),
        fc.constant(['10.1.0.1', '10.2.0.1']),
      ),
    ),
    'aws:PrincipalTag/arn': optional(
      fc.constantFrom('arn:aws:iam::1:role/alice', 'arn:aws:iam::2:user/bob', 'not-an-arn'),
    ),
  })
  .map((c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as RefContext);

test('the compiled evaluator decides exactly as the reference on generated policies and requests', () => {
  let allows = 0;
  let denies = 0;
  fc.assert(
    fc.property(
      fc.array(policy, { minLength: 1, maxLength: 3 }),
      fc.array(
        fc.record({ action: fc.constantFrom(...ACTIONS), resource: fc.constantFrom(...RESOURCES), context }),
        { minLength: 1, maxLength: 8 },
      ),
      (policies, requests) => {
        const parsed = policies.map((p, i) => {
          const result = parsePolicy(JSON.stringify(p));
          assert.ok(result.ok, JSON.stringify(result));
          return { id: `p${i}`, policy: result.policy };
        });
        const set = compilePolicies(parsed);
        const indexed = compilePolicies(parsed, { indexThreshold: 1 });
        for (const request of requests) {
          const expected = referenceEvaluate(policies, request);
          const decision = evaluate(set, request);
          const explained = evaluate(set, request, { explain: true });
          const viaIndex = evaluate(indexed, request);
          for (const other of [explained, viaIndex]) assert.equal(other.effect, decision.effect);
          assert.equal(decision.error, undefined);
          assert.equal(decision.effect, expected, JSON.stringify({ policies, request, decision }));
          assert.equal(decision.allowed, expected === 'Allow');
          // evaluatorFor (principal fixed, target tags per call) decides the same, pruned or not.
          const principal: RefContext = {};
          const target: RefContext = {};
          for (const [key, value] of Object.entries(request.context)) {
            const isTarget =
              /^(ssm|aws):resourcetag\//i.test(key) ||
              (key === 'aws:username' && request.resource.includes('i-22'));
            (isTarget ? target : principal)[key] = value;
          }
          const listed = evaluatorFor(set, request.action, principal)(request.resource, target);
          assert.equal(listed.effect, expected, JSON.stringify({ policies, request, listed }));
          if (expected === 'Allow') allows++;
          if (expected === 'Deny') denies++;
        }
      },
    ),
    { numRuns: 3000 },
  );
  // The generator must exercise all three outcomes, or the comparison proves little.
  assert.ok(allows > 500 && denies > 500, `allows ${allows}, denies ${denies}`);
});
