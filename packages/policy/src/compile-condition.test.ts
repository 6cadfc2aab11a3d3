// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are spelled ${…} in policy text.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileCondition, evaluateCondition } from './compile-condition.ts';
import { type ContextValue, RequestContext } from './request-context.ts';

const KEY = 'aws:k';
type Row = [
  operator: string,
  values: string | string[],
  context: ContextValue | undefined,
  expected: boolean,
];

function holds(
  operator: string,
  values: string | string[],
  context: Record<string, ContextValue | undefined>,
  variables = true,
) {
  const compiled = compileCondition(operator, KEY, Array.isArray(values) ? values : [values], variables);
  assert.ok(
    'lookupKey' in compiled,
    `${operator} ${JSON.stringify(values)} should compile: ${JSON.stringify(compiled)}`,
  );
  return evaluateCondition(compiled, RequestContext.from(context));
}

function table(name: string, rows: Row[]) {
  describe(name, () => {
    for (const [operator, values, context, expected] of rows) {
      test(`${operator} ${JSON.stringify(values)} with ${context === undefined ? 'key absent' : JSON.stringify(context)} → ${expected}`, () => {
        assert.equal(holds(operator, values, { [KEY]: context }), expected);
      });
    }
  });
}

table('string operators', [
  ['StringEquals', 'Production', 'Production', true],
  ['StringEquals', 'Production', 'production', false],
  ['StringEquals', 'Production', undefined, false],
  ['StringEquals', ['Development', 'Production'], 'Production', true],
  ['StringEquals', 'Prod*', 'Production', false],
  ['StringEquals', 'Prod*', 'Prod*', true],
  ['StringEquals', '', '', true],
  ['StringNotEquals', 'Production', 'Production', false],
  ['StringNotEquals', 'Production', 'Development', true],
  ['StringNotEquals', 'Production', undefined, true],
  ['StringNotEquals', ['a', 'b'], 'b', false],
  ['StringNotEquals', ['a', 'b'], 'c', true],
  ['StringEqualsIgnoreCase', 'Prod', 'PROD', true],
  ['StringEqualsIgnoreCase', 'Prod', 'prods', false],
  ['StringEqualsIgnoreCase', 'Prod', undefined, false],
  ['StringNotEqualsIgnoreCase', 'Prod', 'pROD', false],
  ['StringNotEqualsIgnoreCase', 'Prod', 'dev', true],
  ['StringNotEqualsIgnoreCase', 'Prod', undefined, true],
  ['StringLike', 'Prod*', 'Production', true],
  ['StringLike', 'Prod*', 'Prod', true],
  ['StringLike', 'Prod*', 'prod', false],
  ['StringLike', 'Prod*', undefined, false],
  ['StringLike', '?', 'a', true],
  ['StringLike', '?', '', false],
  ['StringLike', '?', 'ab', false],
  ['StringLike', '*', '', true],
  ['StringLike', 'a*b*c', 'aXXbYYc', true],
  ['StringLike', 'a*b*c', 'acb', false],
  ['StringLike', '*a?c*', 'zzabcz', true],
  ['StringLike', 'a${*}', 'a*', true],
  ['StringLike', 'a${*}', 'ab', false],
  ['StringLike', '${?}', '?', true],
  ['StringLike', '${?}', 'x', false],
  ['StringLike', '${$}{x}', '${x}', true],
  ['StringNotLike', 'Prod*', 'Production', false],
  ['StringNotLike', 'Prod*', 'Development', true],
  ['StringNotLike', 'Prod*', undefined, true],
  ['StringEqualsIfExists', 'a', undefined, true],
  ['StringEqualsIfExists', 'a', 'a', true],
  ['StringEqualsIfExists', 'a', 'b', false],
  ['StringNotEqualsIfExists', 'a', undefined, true],
  ['StringNotEqualsIfExists', 'a', 'a', false],
  ['StringLikeIfExists', 'a*', undefined, true],
  ['StringLikeIfExists', 'a*', 'b', false],
  ['stringequals', 'a', 'a', true],
]);

table('numeric operators', [
  ['NumericEquals', '10', '10', true],
  ['NumericEquals', '10', '10.0', true],
  ['NumericEquals', '10', '1e1', true],
  ['NumericEquals', '10', '11', false],
  ['NumericEquals', '10', 'ten', false],
  ['NumericEquals', '10', '0x0a', false],
  ['NumericEquals', '10', undefined, false],
  ['NumericNotEquals', '10', '10', false],
  ['NumericNotEquals', '10', '11', true],
  ['NumericNotEquals', '10', undefined, true],
  ['NumericNotEquals', '10', 'ten', false],
  ['NumericLessThan', '10', '9', true],
  ['NumericLessThan', '10', '10', false],
  ['NumericLessThan', '10', '-1.5', true],
  ['NumericLessThanEquals', '10', '10', true],
  ['NumericLessThanEquals', '10', '11', false],
  ['NumericGreaterThan', '10', '11', true],
  ['NumericGreaterThan', '10', '10', false],
  ['NumericGreaterThanEquals', '10', '10', true],
  ['NumericGreaterThanEquals', '10', '9', false],
  ['NumericLessThan', ['5', '10'], '7', true],
  ['NumericLessThanIfExists', '10', undefined, true],
  ['NumericLessThanIfExists', '10', '11', false],
]);

const NEW_YEAR = '2024-01-01T00:00:00Z';
table('date operators', [
  ['DateEquals', NEW_YEAR, NEW_YEAR, true],
  ['DateEquals', NEW_YEAR, '2024-01-01', true],
  ['DateEquals', NEW_YEAR, '1704067200', true],
  ['DateEquals', NEW_YEAR, '2024-01-01T01:00:00+01:00', true],
  ['DateEquals', NEW_YEAR, '2023-12-31T19:00:00-0500', true],
  ['DateEquals', NEW_YEAR, '2024-01-01T00:00:00.000Z', true],
  ['DateEquals', NEW_YEAR, '2024-01-01T00:00:01Z', false],
  ['DateEquals', NEW_YEAR, 'New Year', false],
  ['DateEquals', NEW_YEAR, '2024-02-30', false],
  ['DateEquals', NEW_YEAR, undefined, false],
  ['DateEquals', '1704067200', NEW_YEAR, true],
  ['DateNotEquals', NEW_YEAR, '2025-01-01T00:00:00Z', true],
  ['DateNotEquals', NEW_YEAR, NEW_YEAR, false],
  ['DateNotEquals', NEW_YEAR, undefined, true],
  ['DateLessThan', NEW_YEAR, '2023-12-31T23:59:59Z', true],
  ['DateLessThan', NEW_YEAR, NEW_YEAR, false],
  ['DateLessThanEquals', NEW_YEAR, NEW_YEAR, true],
  ['DateLessThanEquals', NEW_YEAR, '2024-01-01T00:00:00.001Z', false],
  ['DateGreaterThan', NEW_YEAR, '2024-01-01T00:00:00.5Z', true],
  ['DateGreaterThan', NEW_YEAR, NEW_YEAR, false],
  ['DateGreaterThanEquals', NEW_YEAR, NEW_YEAR, true],
  ['DateGreaterThanEquals', NEW_YEAR, '2023-06-01', false],
  ['DateLessThanIfExists', NEW_YEAR, undefined, true],
]);

table('Bool and BinaryEquals', [
  ['Bool', 'true', 'true', true],
  ['Bool', 'true', 'TRUE', true],
  ['Bool', 'true', 'false', false],
  ['Bool', 'true', 'yes', false],
  ['Bool', 'true', undefined, false],
  ['Bool', 'false', 'false', true],
  ['BoolIfExists', 'true', undefined, true],
  ['BoolIfExists', 'true', 'false', false],
  ['BinaryEquals', 'QmluYXJ5', 'QmluYXJ5', true],
  ['BinaryEquals', 'QmluYXJ5', 'QmluYXJ6', false],
  ['BinaryEquals', 'QmluYXJ5', 'not base64!', false],
  ['BinaryEquals', 'QmluYXJ5', undefined, false],
  ['BinaryEqualsIfExists', 'QmluYXJ5', undefined, true],
]);

table('IP address operators', [
  ['IpAddress', '203.0.113.0/24', '203.0.113.7', true],
  ['IpAddress', '203.0.113.0/24', '203.0.114.1', false],
  ['IpAddress', '203.0.113.0/24', '::ffff:203.0.113.7', true],
  ['IpAddress', '203.0.113.0/24', '2001:db8::1', false],
  ['IpAddress', '203.0.113.0/24', 'localhost', false],
  ['IpAddress', '203.0.113.0/24', undefined, false],
  ['IpAddress', '10.0.0.5', '10.0.0.5', true],
  ['IpAddress', '10.0.0.5', '10.0.0.6', false],
  ['IpAddress', '0.0.0.0/0', '198.51.100.1', true],
  ['IpAddress', '10.1.2.3/8', '10.200.0.1', true],
  ['IpAddress', '2001:DB8::/32', '2001:db8:1::5', true],
  ['IpAddress', '2001:db8::/32', '2001:db9::1', false],
  ['IpAddress', '2001:db8::/32', '203.0.113.7', false],
  ['IpAddress', '2001:db8:0:0:0:0:0:1', '2001:db8::1', true],
  ['IpAddress', ['10.0.0.0/8', '192.168.0.0/16'], '192.168.3.4', true],
  ['NotIpAddress', '203.0.113.0/24', '203.0.113.7', false],
  ['NotIpAddress', '203.0.113.0/24', '198.51.100.1', true],
  ['NotIpAddress', '203.0.113.0/24', undefined, true],
  ['NotIpAddress', '203.0.113.0/24', 'garbage', false],
  ['IpAddressIfExists', '203.0.113.0/24', undefined, true],
]);

table('ARN operators', [
  ['ArnLike', 'arn:aws:iam::*:role/Admin*', 'arn:aws:iam::123456789012:role/AdminTeam', true],
  ['ArnLike', 'arn:aws:iam::*:role/Admin*', 'arn:aws:iam::123456789012:user/AdminTeam', false],
  ['ArnLike', 'arn:aws:iam::*:role/Admin*', 'not-an-arn', false],
  ['ArnLike', 'arn:aws:iam::*:role/Admin*', undefined, false],
  ['ArnEquals', 'arn:aws:ssm:*:*:session/*', 'arn:aws:ssm:local:000000000000:session/alice-1', true],
  ['ArnEquals', 'arn:*:ec2:*:*:instance/*', 'arn:aws:ec2:r:1:volume/v', false],
  // A wildcard matches within one part: the account `*` cannot swallow "a:b".
  ['ArnLike', 'arn:aws:ec2:*:*:instance/*', 'arn:aws:ec2:r:a:b:instance/i', false],
  ['ArnLike', 'arn:aws:logs:*:*:log-group:*', 'arn:aws:logs:r:1:log-group:g:log-stream:s', true],
  ['ArnLike', 'arn:aws:s3:::bucket/*', 'arn:aws:s3:::bucket/a/b', true],
  ['ArnLike', 'arn:aws:s3:::bucket/*', 'arn:aws:s3:eu::bucket/a', false],
  ['ArnNotLike', 'arn:aws:iam::*:role/Admin*', 'arn:aws:iam::1:role/AdminX', false],
  ['ArnNotLike', 'arn:aws:iam::*:role/Admin*', 'arn:aws:iam::1:role/Dev', true],
  ['ArnNotLike', 'arn:aws:iam::*:role/Admin*', undefined, true],
  ['ArnNotLike', 'arn:aws:iam::*:role/Admin*', 'not-an-arn', false],
  ['ArnNotEquals', 'arn:aws:iam::1:role/A', 'arn:aws:iam::1:role/B', true],
  ['ArnLikeIfExists', 'arn:aws:iam::*:role/*', undefined, true],
]);

table('Null', [
  ['Null', 'true', undefined, true],
  ['Null', 'true', 'x', false],
  ['Null', 'true', [], true],
  ['Null', 'false', 'x', true],
  ['Null', 'false', '', true],
  ['Null', 'false', undefined, false],
  ['Null', ['true', 'false'], undefined, true],
]);
