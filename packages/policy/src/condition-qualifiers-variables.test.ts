// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are spelled ${…} in policy text.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileCondition, evaluateCondition } from './compile-condition.ts';
import { holds, KEY, table } from './condition-table.test-support.ts';
import { type ContextValue, RequestContext } from './request-context.ts';

table('set qualifiers and multi-valued context values', [
  ['ForAnyValue:StringEquals', ['a', 'b'], ['x', 'b'], true],
  ['ForAnyValue:StringEquals', ['a', 'b'], ['x', 'y'], false],
  ['ForAnyValue:StringEquals', ['a', 'b'], undefined, false],
  ['ForAnyValue:StringEquals', ['a', 'b'], [], false],
  ['ForAnyValue:StringEquals', ['a', 'b'], 'a', true],
  ['ForAllValues:StringEquals', ['a', 'b'], ['a', 'b'], true],
  ['ForAllValues:StringEquals', ['a', 'b'], ['a', 'x'], false],
  ['ForAllValues:StringEquals', ['a', 'b'], undefined, true],
  ['ForAllValues:StringEquals', ['a', 'b'], [], true],
  ['ForAllValues:StringEquals', ['a', 'b'], 'c', false],
  ['ForAnyValue:StringNotEquals', ['a', 'b'], ['a', 'x'], true],
  ['ForAnyValue:StringNotEquals', ['a', 'b'], ['a', 'b'], false],
  ['ForAnyValue:StringNotEquals', ['a', 'b'], undefined, false],
  ['ForAllValues:StringNotEquals', ['a', 'b'], ['x', 'y'], true],
  ['ForAllValues:StringNotEquals', ['a', 'b'], ['x', 'a'], false],
  ['ForAllValues:StringNotEquals', ['a', 'b'], undefined, true],
  ['ForAnyValue:StringLike', 'a*', ['zz', 'ab'], true],
  ['ForAllValues:StringLike', 'a*', ['ab', 'ac'], true],
  ['ForAllValues:StringLike', 'a*', ['ab', 'b'], false],
  ['ForAnyValue:StringEqualsIfExists', 'a', undefined, true],
  ['ForAllValues:StringLikeIfExists', 'a*', undefined, true],
  ['ForAnyValue:NumericLessThan', '10', ['20', '5'], true],
  ['ForAllValues:NumericLessThan', '10', ['20', '5'], false],
  ['ForAllValues:IpAddress', '10.0.0.0/8', ['10.1.1.1', '10.2.2.2'], true],
  ['ForAllValues:IpAddress', '10.0.0.0/8', ['10.1.1.1', '11.0.0.1'], false],
  ['foranyvalue:stringequals', 'a', ['a'], true],
  // Without a set qualifier a list for a single-valued key never matches (a caller's mistake).
  ['StringEquals', 'a', ['a'], false],
  ['StringNotEquals', 'a', ['b'], false],
  // To a set qualifier an empty string is the empty set (AWS: "resolve to an empty data set (for example, an
  // empty string)"); without one it is a value.
  ['ForAnyValue:StringLike', '*', '', false],
  ['ForAllValues:StringEquals', 'a', '', true],
  ['StringEquals', '', '', true],
  ['StringLike', '*', '', true],
]);

describe('policy variables in condition values', () => {
  const tag = 'aws:PrincipalTag/team';
  const cases: [string, string | string[], Record<string, ContextValue>, boolean][] = [
    ['StringEquals', '${aws:PrincipalTag/team}', { [KEY]: 'red', [tag]: 'red' }, true],
    ['StringEquals', '${aws:PrincipalTag/team}', { [KEY]: 'red', [tag]: 'blue' }, false],
    ['StringEquals', '${aws:PrincipalTag/team}', { [KEY]: 'red' }, false],
    // An absent variable is a null value, equal to and like nothing, so a negated operator holds (AWS,
    // "Policy variables with no value": "Inverted condition operators like StringNotEquals or StringNotLike
    // do match against a null value").
    ['StringNotEquals', '${aws:PrincipalTag/team}', { [KEY]: 'red' }, true],
    ['StringNotEquals', '${aws:PrincipalTag/team}', { [KEY]: 'red', [tag]: 'blue' }, true],
    ['StringNotEquals', '${aws:PrincipalTag/team}', { [KEY]: 'red', [tag]: 'red' }, false],
    ['StringNotLike', '${aws:PrincipalTag/team}-*', { [KEY]: 'red' }, true],
    ['StringNotEqualsIgnoreCase', '${aws:PrincipalTag/team}', { [KEY]: 'red' }, true],
    // In a list, only the null entry drops out: the other values still decide.
    ['StringEquals', ['${aws:PrincipalTag/team}', 'red'], { [KEY]: 'red' }, true],
    ['StringNotEquals', ['${aws:PrincipalTag/team}', 'red'], { [KEY]: 'red' }, false],
    ['StringNotEquals', ['${aws:PrincipalTag/team}', 'red'], { [KEY]: 'blue' }, true],
    ['ArnNotLike', 'arn:aws:iam::*:user/${aws:username}', { [KEY]: 'arn:aws:iam::1:user/alice' }, true],
    ['ArnLike', 'arn:aws:iam::*:user/${aws:username}', { [KEY]: 'arn:aws:iam::1:user/alice' }, false],
    ['ArnNotEquals', '${aws:PrincipalArn}', { [KEY]: 'arn:aws:iam::1:user/a' }, true],
    // A context value that is not an ARN is not of the operator's type: false, negated or not.
    ['ArnNotLike', 'arn:aws:iam::*:user/${aws:username}', { [KEY]: 'alice' }, false],
    ['StringEquals', "${aws:PrincipalTag/team, 'none'}", { [KEY]: 'none' }, true],
    ['StringEquals', "${aws:PrincipalTag/team, 'none'}", { [KEY]: 'red', [tag]: 'red' }, true],
    ['StringLike', 'team-${aws:PrincipalTag/team}-*', { [KEY]: 'team-red-1', [tag]: 'red' }, true],
    ['StringLike', 'team-${aws:PrincipalTag/team}-*', { [KEY]: 'team-red', [tag]: 'red' }, false],
    // A variable's value is literal text: a * in a tag value is not a wildcard.
    ['StringLike', '${aws:PrincipalTag/team}', { [KEY]: 'anything', [tag]: '*' }, false],
    ['StringLike', '${aws:PrincipalTag/team}', { [KEY]: '*', [tag]: '*' }, true],
    ['StringEquals', '${aws:PrincipalTag/team}', { [KEY]: 'red', 'AWS:PRINCIPALTAG/TEAM': 'red' }, true],
    ['StringEqualsIgnoreCase', '${aws:PrincipalTag/team}', { [KEY]: 'red', [tag]: 'RED' }, true],
    ['StringEquals', '${aws:PrincipalTag/team}', { [KEY]: 'a', [tag]: ['a', 'b'] }, false],
    [
      'ArnLike',
      'arn:aws:iam::*:user/${aws:username}',
      { [KEY]: 'arn:aws:iam::1:user/alice', 'aws:username': 'alice' },
      true,
    ],
    [
      'ArnLike',
      'arn:aws:iam::*:user/${aws:username}',
      { [KEY]: 'arn:aws:iam::1:user/bob', 'aws:username': 'alice' },
      false,
    ],
    [
      'ArnEquals',
      '${aws:PrincipalArn}',
      { [KEY]: 'arn:aws:iam::1:user/a', 'aws:PrincipalArn': 'arn:aws:iam::1:user/a' },
      true,
    ],
  ];
  for (const [operator, values, context, expected] of cases) {
    test(`${operator} ${JSON.stringify(values)} with ${JSON.stringify(context)} → ${expected}`, () => {
      assert.equal(holds(operator, values, context), expected);
    });
  }

  test('with Version 2008-10-17 ${…} is literal text', () => {
    assert.equal(
      holds('StringEquals', '${aws:username}', { [KEY]: '${aws:username}', 'aws:username': 'x' }, false),
      true,
    );
    assert.equal(holds('StringEquals', '${aws:username}', { [KEY]: 'x', 'aws:username': 'x' }, false), false);
  });
});

describe('condition keys', () => {
  test('ssm:resourceTag/X and aws:ResourceTag/X are one key, in any case', () => {
    for (const [policyKey, contextKey] of [
      ['ssm:resourceTag/project', 'aws:ResourceTag/project'],
      ['aws:ResourceTag/project', 'ssm:resourceTag/project'],
      ['SSM:RESOURCETAG/PROJECT', 'aws:resourcetag/project'],
    ] as const) {
      const compiled = compileCondition('StringEquals', policyKey, ['Production'], true);
      assert.ok('lookupKey' in compiled);
      assert.equal(evaluateCondition(compiled, RequestContext.from({ [contextKey]: 'Production' })), true);
    }
  });
});

describe('values and operators that do not compile', () => {
  const rows: [string, string, RegExp][] = [
    ['NumericEquals', 'ten', /not a number/],
    ['NumericEquals', '${aws:EpochTime}', /only in String and ARN/],
    ['DateLessThan', 'yesterday', /not a date/],
    ['Bool', 'yes', /"true" or "false"/],
    ['IpAddress', '300.1.1.1', /not an IP address/],
    ['IpAddress', '10.0.0.0/33', /not an IP address/],
    ['IpAddress', '010.0.0.1', /not an IP address/],
    ['ArnLike', 'not-an-arn', /not an ARN/],
    ['BinaryEquals', '!!', /not base64/],
    ['Null', 'maybe', /"true" \(key absent\)/],
    ['StringEquals', '${aws:username', /never closed/],
    ['StringEquals', '${}', /empty policy variable/],
    ['StringEquals', '${username}', /not a policy variable/],
    // Only ${*}, ${?} and ${$} are escapes: names Object has are not.
    ['StringEquals', '${constructor}', /not a policy variable/],
    ['StringEquals', '${__proto__}', /not a policy variable/],
    ['StringEquals', '${toString}', /not a policy variable/],
    ['StringEquals', '${aws:username, none}', /single quotes/],
  ];
  for (const [operator, value, message] of rows) {
    test(`${operator} ${JSON.stringify(value)}`, () => {
      const compiled = compileCondition(operator, KEY, [value], true);
      assert.ok('errors' in compiled, JSON.stringify(compiled));
      assert.match(compiled.errors[0]?.message ?? '', message);
    });
  }
  for (const [operator, message] of [
    ['StringEqual', /did you mean StringEquals/],
    ['ForSomeValues:StringEquals', /ForAnyValue: or ForAllValues:/],
    ['ForAnyValue:Null', /not meaningful/],
    ['NullIfExists', /Null already tests/],
    ['Whatever', /operators are/],
  ] as const) {
    test(`operator ${operator}`, () => {
      const compiled = compileCondition(operator, KEY, ['x'], true);
      assert.ok('operatorError' in compiled);
      assert.match(compiled.operatorError, message);
    });
  }
});
