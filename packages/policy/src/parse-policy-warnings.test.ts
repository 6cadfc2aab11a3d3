// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are spelled ${…} in policy text.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parsePolicy } from './parse-policy.ts';

const allow = { Effect: 'Allow', Action: 'ssm:StartSession', Resource: '*' };
const doc = (...statements: unknown[]) => ({ Version: '2012-10-17', Statement: statements });

describe('warnings for likely mistakes', () => {
  const rows: [string, unknown, string, RegExp][] = [
    [
      'condition key with a trailing space (State Street)',
      doc({
        ...allow,
        Condition: { StringEquals: { 'ssm:resourceTag/APP_ID ': '${aws:PrincipalTag/AppId}' } },
      }),
      '$.Statement[0].Condition.StringEquals["ssm:resourceTag/APP_ID "]',
      /surrounding spaces; it is matched as "ssm:resourceTag\/APP_ID"/,
    ],
    ['no Version', { Statement: allow }, '$', /2008-10-17/],
    [
      'variable with Version 2008-10-17',
      {
        Version: '2008-10-17',
        Statement: { ...allow, Resource: 'arn:aws:ssm:*:*:session/${aws:username}-*' },
      },
      '$.Statement.Resource',
      /literal text/,
    ],
    [
      'operator spelled in another case',
      doc({ ...allow, Condition: { stringequals: { 'aws:username': 'a' } } }),
      '$.Statement[0].Condition.stringequals',
      /write the operator as "StringEquals"/,
    ],
    [
      'key Sesame never supplies',
      doc({ ...allow, Condition: { StringEquals: { 'aws:RequestedRegion': 'eu-west-1' } } }),
      '$.Statement[0].Condition.StringEquals["aws:RequestedRegion"]',
      /never supplies.*always false/,
    ],
    [
      'negated condition on a key Sesame never supplies',
      doc({ ...allow, Condition: { StringNotEquals: { 'aws:RequestedRegion': 'x' } } }),
      '$.Statement[0].Condition.StringNotEquals["aws:RequestedRegion"]',
      /always true/,
    ],
    [
      'variable Sesame never supplies',
      doc({ ...allow, Resource: 'arn:aws:ssm:*:*:session/${aws:FederatedProvider}' }),
      '$.Statement[0].Resource',
      /never resolves/,
    ],
    [
      'StringEquals with a wildcard',
      doc({ ...allow, Condition: { StringEquals: { 'ssm:resourceTag/project': 'Prod*' } } }),
      '$.Statement[0].Condition.StringEquals["ssm:resourceTag/project"]',
      /use StringLike/,
    ],
    [
      'value with surrounding spaces',
      doc({ ...allow, Condition: { StringLike: { 'ssm:resourceTag/project': ['Production '] } } }),
      '$.Statement[0].Condition.StringLike["ssm:resourceTag/project"][0]',
      /surrounding spaces/,
    ],
    [
      'ForAllValues on a single-valued key',
      doc({ ...allow, Condition: { 'ForAllValues:StringEquals': { 'aws:PrincipalTag/team': 'red' } } }),
      '$.Statement[0].Condition["ForAllValues:StringEquals"]',
      /also true when the key is absent/,
    ],
    [
      'the same key twice',
      doc({ ...allow, Condition: { StringEquals: { 'aws:ResourceTag/a': 'x', 'ssm:resourceTag/A': 'y' } } }),
      '$.Statement[0].Condition.StringEquals["ssm:resourceTag/A"]',
      /name the same key/,
    ],
    [
      'Allow with NotAction',
      doc({ Effect: 'Allow', NotAction: 'ssm:Delete*', Resource: '*' }),
      '$.Statement[0].NotAction',
      /every other action/,
    ],
    [
      'Allow with NotResource',
      doc({ Effect: 'Allow', Action: '*', NotResource: 'arn:aws:ssm:*:*:document/*' }),
      '$.Statement[0].NotResource',
      /every other resource/,
    ],
    ['empty Condition', doc({ ...allow, Condition: {} }), '$.Statement[0].Condition', /no effect/],
    ['no statements', doc(), '$.Statement', /allows nothing/],
  ];
  for (const [name, input, path, message] of rows) {
    test(name, () => {
      const result = parsePolicy(input);
      assert.ok(result.ok, JSON.stringify(result));
      const found = result.warnings.find((w) => w.path === path && message.test(w.message));
      assert.ok(found, `no matching warning at ${path}: ${JSON.stringify(result.warnings)}`);
    });
  }
});

test('ForAnyValue and ForAllValues on the multivalued aws:TagKeys draw no warning', () => {
  for (const operator of ['ForAnyValue:StringEquals', 'ForAllValues:StringLike']) {
    const result = parsePolicy(
      doc({
        ...allow,
        Condition: { [operator]: { 'aws:TagKeys': operator.endsWith('Like') ? 'APP_*' : 'APP_ID' } },
      }),
    );
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(
      result.warnings.filter((w) => w.path.includes('Condition')),
      [],
      operator,
    );
  }
});

describe('aws:TagKeys compared letter for letter where a key written in other letters would get past', () => {
  const tagging = (Effect: string, operator: string, keys: string) =>
    doc({
      Effect,
      Action: 'sesame:TagUser',
      Resource: '*',
      Condition: { [operator]: { 'aws:TagKeys': keys } },
    });
  const warned: [string, string, RegExp][] = [
    ['Deny', 'ForAnyValue:StringEquals', /this Deny does not hold .* use StringEqualsIgnoreCase$/],
    ['Deny', 'ForAllValues:StringEquals', /use StringEqualsIgnoreCase$/],
    ['Deny', 'ForAnyValue:StringLike', /ForAnyValue:StringEqualsIgnoreCase instead/],
    ['Allow', 'ForAllValues:StringNotEquals', /this Allow does not hold .* use StringNotEqualsIgnoreCase$/],
    ['Allow', 'ForAnyValue:StringNotLike', /no IgnoreCase form with wildcards/],
  ];
  for (const [effect, operator, message] of warned) {
    test(`${effect} with ${operator}`, () => {
      const result = parsePolicy(tagging(effect, operator, 'APP_GROUP_NAME'));
      assert.ok(result.ok, JSON.stringify(result));
      const path = `$.Statement[0].Condition["${operator}"]`;
      assert.ok(
        result.warnings.some((w) => w.path === path && message.test(w.message)),
        JSON.stringify(result.warnings),
      );
    });
  }
  const quiet: [string, string][] = [
    ['Deny', 'ForAnyValue:StringEqualsIgnoreCase'],
    ['Allow', 'ForAllValues:StringNotEqualsIgnoreCase'],
    ['Allow', 'ForAllValues:StringEquals'],
    ['Allow', 'ForAllValues:StringLike'],
    ['Deny', 'ForAllValues:StringNotEquals'],
    ['Deny', 'ForAnyValue:StringNotLike'],
  ];
  for (const [effect, operator] of quiet) {
    test(`no warning for ${effect} with ${operator}: a key in other letters fails closed or is matched`, () => {
      const result = parsePolicy(tagging(effect, operator, 'APP_GROUP_NAME'));
      assert.ok(result.ok, JSON.stringify(result));
      assert.deepEqual(result.warnings, []);
    });
  }
});
