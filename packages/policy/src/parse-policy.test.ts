// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are spelled ${…} in policy text.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parsePolicy } from './parse-policy.ts';
import { POLICY_LIMITS } from './policy-types.ts';

const allow = { Effect: 'Allow', Action: 'ssm:StartSession', Resource: '*' };
const doc = (...statements: unknown[]) => ({ Version: '2012-10-17', Statement: statements });

describe('accepted shapes', () => {
  test('Statement as one object, Action and Resource as strings', () => {
    const result = parsePolicy({ Version: '2012-10-17', Statement: allow });
    assert.ok(result.ok);
    assert.deepEqual(result.warnings, []);
    const [statement] = result.policy.statements;
    assert.equal(statement?.path, '$.Statement');
    assert.deepEqual(statement?.action, ['ssm:StartSession']);
    assert.deepEqual(statement?.resource, ['*']);
  });

  test('NotAction / NotResource, Sid, Id, numbers and booleans as condition values', () => {
    const result = parsePolicy({
      Version: '2008-10-17',
      Id: 'p1',
      Statement: [
        {
          Sid: 'Deny1',
          Effect: 'Deny',
          NotAction: ['ssm:Describe*'],
          NotResource: ['arn:aws:ssm:*:*:session/*'],
          Condition: {
            NumericGreaterThan: { 'aws:MultiFactorAuthAge': 3600 },
            Bool: { 'aws:MultiFactorAuthPresent': false },
          },
        },
      ],
    });
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.policy.id, 'p1');
    assert.equal(result.policy.version, '2008-10-17');
    const [statement] = result.policy.statements;
    assert.deepEqual(statement?.notAction, ['ssm:Describe*']);
    assert.deepEqual(
      statement?.conditions.map((c) => c.values),
      [['3600'], ['false']],
    );
  });

  test('ARNs with empty region and account, wildcards and variables', () => {
    const result = parsePolicy(
      doc({
        ...allow,
        Resource: [
          'arn:aws:ssm:local::document/AWS-StartSSHSession',
          'arn:*:ec2:us-?ast-1:*:instance/*',
          'arn:aws:ssm:*:*:session/${aws:username}-*',
        ],
      }),
    );
    assert.ok(result.ok, JSON.stringify(result));
  });
});

describe('problems are located', () => {
  test('every problem is reported at once, in document order, with line and column', () => {
    const text = `{
  "Version": "2012-10-17",
  "Statement": [
    { "Effect": "allow", "Action": "ssm StartSession", "Resource": "*" },
    { "Effect": "Allow", "Action": "ssm:StartSession", "Resource": "arn:aws:ec2" }
  ]
}`;
    const result = parsePolicy(text);
    assert.ok(!result.ok);
    assert.deepEqual(
      result.errors.map((e) => [e.path, e.line, e.column]),
      [
        ['$.Statement[0].Effect', 4, 7],
        ['$.Statement[0].Action', 4, 26],
        ['$.Statement[1].Resource', 5, 56],
      ],
    );
  });

  test('JSON syntax errors and duplicate keys', () => {
    const syntax = parsePolicy('{"Version": "2012-10-17" "Statement": []}');
    assert.ok(!syntax.ok);
    assert.match(syntax.errors[0]?.message ?? '', /line 1, column 26/);
    const duplicate = parsePolicy(
      '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"aws:username": "a"}, "StringEquals": {"aws:userid": "b"}}}}',
    );
    assert.ok(!duplicate.ok);
    assert.equal(duplicate.errors[0]?.path, '$.Statement.Condition.StringEquals');
    assert.match(duplicate.errors[0]?.message ?? '', /duplicate key/);
  });

  test('size limits', () => {
    const big = parsePolicy(' '.repeat(POLICY_LIMITS.maxDocumentChars + 1));
    assert.ok(!big.ok);
    assert.match(big.errors[0]?.message ?? '', /limit is 4194304/);
    const many = parsePolicy(doc(...Array.from({ length: POLICY_LIMITS.maxStatements + 1 }, () => allow)));
    assert.ok(!many.ok);
    assert.match(many.errors[0]?.message ?? '', /10001 statements/);
    const tenThousand = parsePolicy(
      JSON.stringify(doc(...Array.from({ length: POLICY_LIMITS.maxStatements }, () => allow))),
    );
    assert.ok(tenThousand.ok);
  });
});

test('never throws, whatever it is given', () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  for (const input of [
    undefined,
    null,
    0,
    'x',
    '{',
    cyclic,
    10n,
    () => 1,
    { Statement: [{ Condition: { StringEquals: { k: [[]] } } }] },
  ]) {
    const result = parsePolicy(input);
    assert.equal(result.ok, false, String(input));
    assert.ok(result.errors.length > 0);
  }
  const statement = fc.dictionary(
    fc.constantFrom('Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'Condition', 'Principal', 'x'),
    fc.jsonValue({ maxDepth: 3 }),
  );
  fc.assert(
    fc.property(
      fc.record({
        Version: fc.constantFrom('2012-10-17', 'x'),
        Statement: fc.oneof(statement, fc.array(statement)),
      }),
      (policy) => {
        const result = parsePolicy(policy);
        assert.ok(result.ok || result.errors.length > 0);
        const again = parsePolicy(JSON.stringify(policy));
        assert.equal(again.ok, result.ok);
      },
    ),
    { numRuns: 1000 },
  );
});
