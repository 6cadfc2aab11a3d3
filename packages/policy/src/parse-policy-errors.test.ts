// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are spelled ${…} in policy text.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parsePolicy } from './parse-policy.ts';

const allow = { Effect: 'Allow', Action: 'ssm:StartSession', Resource: '*' };
const doc = (...statements: unknown[]) => ({ Version: '2012-10-17', Statement: statements });

describe('errors, each located', () => {
  const rows: [string, unknown, string, RegExp][] = [
    ['not an object', [], '$', /a policy is a JSON object/],
    ['unknown top-level key', { ...doc(allow), Statements: [] }, '$.Statements', /unknown top-level key/],
    [
      'wrongly cased top-level key',
      { Version: '2012-10-17', statement: [allow] },
      '$.statement',
      /did you mean "Statement"/,
    ],
    ['missing Statement', { Version: '2012-10-17' }, '$', /missing "Statement"/],
    [
      'Statement of the wrong type',
      { Version: '2012-10-17', Statement: 'x' },
      '$.Statement',
      /object or an array/,
    ],
    ['bad Version', { ...doc(allow), Version: '2012-10-18' }, '$.Version', /"2012-10-17"/],
    ['Id not a string', { ...doc(allow), Id: 3 }, '$.Id', /Id must be a string/],
    ['statement not an object', doc('x'), '$.Statement[0]', /must be an object/],
    [
      'unknown statement key',
      doc({ ...allow, Conditions: {} }),
      '$.Statement[0].Conditions',
      /unknown statement key/,
    ],
    [
      'wrongly cased statement key',
      doc({ ...allow, effect: 'Allow' }),
      '$.Statement[0].effect',
      /did you mean "Effect"/,
    ],
    ['Principal', doc({ ...allow, Principal: '*' }), '$.Statement[0].Principal', /resource-based policies/],
    [
      'NotPrincipal',
      doc({ ...allow, NotPrincipal: { AWS: '*' } }),
      '$.Statement[0].NotPrincipal',
      /resource-based/,
    ],
    ['missing Effect', doc({ Action: '*', Resource: '*' }), '$.Statement[0]', /missing Effect/],
    [
      'Effect in the wrong case',
      doc({ ...allow, Effect: 'allow' }),
      '$.Statement[0].Effect',
      /must be exactly "Allow" \(it is case-sensitive\)/,
    ],
    [
      'Effect with a space',
      doc({ ...allow, Effect: 'Allow ' }),
      '$.Statement[0].Effect',
      /must be exactly "Allow" \(no spaces around it\)/,
    ],
    ['unknown Effect', doc({ ...allow, Effect: 'Permit' }), '$.Statement[0].Effect', /"Allow" or "Deny"/],
    ['Sid with a dash', doc({ ...allow, Sid: 'a-b' }), '$.Statement[0].Sid', /letters and digits/],
    ['Sid not a string', doc({ ...allow, Sid: 1 }), '$.Statement[0].Sid', /must be a string/],
    [
      'duplicate Sid',
      doc({ ...allow, Sid: 'A' }, { ...allow, Sid: 'A' }),
      '$.Statement[1].Sid',
      /already used by \$\.Statement\[0\]/,
    ],
    [
      'both Action and NotAction',
      doc({ ...allow, NotAction: 'x:y' }),
      '$.Statement[0]',
      /either Action or NotAction/,
    ],
    [
      'neither Action nor NotAction',
      doc({ Effect: 'Allow', Resource: '*' }),
      '$.Statement[0]',
      /missing Action/,
    ],
    [
      'neither Resource nor NotResource',
      doc({ Effect: 'Allow', Action: '*' }),
      '$.Statement[0]',
      /missing Resource/,
    ],
    [
      'both Resource and NotResource',
      doc({ ...allow, NotResource: '*' }),
      '$.Statement[0]',
      /either Resource or NotResource/,
    ],
    [
      'Action not a string',
      doc({ ...allow, Action: 7 }),
      '$.Statement[0].Action',
      /string or an array of strings/,
    ],
    ['empty Action list', doc({ ...allow, Action: [] }), '$.Statement[0].Action', /empty list/],
    [
      'Action entry not a string',
      doc({ ...allow, Action: ['ssm:A', null] }),
      '$.Statement[0].Action[1]',
      /must be a string, not null/,
    ],
    [
      'action without service',
      doc({ ...allow, Action: 'StartSession' }),
      '$.Statement[0].Action',
      /service:Action/,
    ],
    [
      'wildcard in service prefix',
      doc({ ...allow, Action: ['ssm:A', 's*:Get*'] }),
      '$.Statement[0].Action[1]',
      /cannot contain wildcards/,
    ],
    [
      'action with spaces',
      doc({ ...allow, Action: 'ssm:StartSession ' }),
      '$.Statement[0].Action',
      /surrounding spaces/,
    ],
    [
      'odd action name',
      doc({ ...allow, Action: 'ssm:Start-Session' }),
      '$.Statement[0].Action',
      /letters and digits/,
    ],
    [
      'variable in Action',
      doc({ ...allow, Action: 'ssm:${aws:username}' }),
      '$.Statement[0].Action',
      /cannot be used in Action/,
    ],
    [
      'resource that is not an ARN',
      doc({ ...allow, Resource: 'i-0123' }),
      '$.Statement[0].Resource',
      /malformed ARN/,
    ],
    [
      'ARN with too few parts',
      doc({ ...allow, Resource: ['*', 'arn:aws:ec2:instance/*'] }),
      '$.Statement[0].Resource[1]',
      /malformed ARN.*4 colon-separated/,
    ],
    [
      'ARN with an empty service',
      doc({ ...allow, Resource: 'arn:aws:::x:y' }),
      '$.Statement[0].Resource',
      /empty service/,
    ],
    [
      'ARN with a wildcard service',
      doc({ ...allow, Resource: 'arn:aws:ec*:*:*:instance/*' }),
      '$.Statement[0].Resource',
      /service part cannot/,
    ],
    [
      'ARN with spaces',
      doc({ ...allow, Resource: 'arn:aws:ec2:*:*:instance/* ' }),
      '$.Statement[0].Resource',
      /surrounding spaces/,
    ],
    [
      'ARN with an empty resource part',
      doc({ ...allow, Resource: 'arn:aws:ec2:r:a:' }),
      '$.Statement[0].Resource',
      /empty resource part/,
    ],
    [
      'unclosed variable',
      doc({ ...allow, Resource: 'arn:aws:ssm:*:*:session/${aws:username-*' }),
      '$.Statement[0].Resource',
      /never closed/,
    ],
    [
      'Condition not an object',
      doc({ ...allow, Condition: [] }),
      '$.Statement[0].Condition',
      /Condition must be an object/,
    ],
    [
      'unknown operator',
      doc({ ...allow, Condition: { StringEqualz: { 'aws:username': 'a' } } }),
      '$.Statement[0].Condition.StringEqualz',
      /did you mean StringEquals/,
    ],
    [
      'the multivalued aws:TagKeys without ForAnyValue or ForAllValues',
      doc({ ...allow, Condition: { StringEquals: { 'aws:TagKeys': 'APP_ID' } } }),
      '$.Statement[0].Condition.StringEquals',
      /"aws:TagKeys" holds one value per tag key in the request: write ForAnyValue:StringEquals \(some key must match\) or ForAllValues:StringEquals/,
    ],
    [
      'IfExist for IfExists',
      doc({ ...allow, Condition: { StringEqualsIfExist: { 'aws:username': 'a' } } }),
      '$.Statement[0].Condition.StringEqualsIfExist',
      /did you mean StringEqualsIfExists/,
    ],
    [
      'a number too large to be one',
      doc({ ...allow, Condition: { NumericEquals: { 'aws:EpochTime': Number.POSITIVE_INFINITY } } }),
      '$.Statement[0].Condition.NumericEquals["aws:EpochTime"]',
      /must be a finite number; this one is too large/,
    ],
    [
      'a condition key over the length limit',
      doc({ ...allow, Condition: { StringEquals: { [`aws:PrincipalTag/${'x'.repeat(5000)}`]: 'a' } } }),
      `$.Statement[0].Condition.StringEquals["aws:PrincipalTag/${'x'.repeat(5000)}"]`,
      /condition key is longer than 4096 characters/,
    ],
    [
      'operator without keys',
      doc({ ...allow, Condition: { StringEquals: {} } }),
      '$.Statement[0].Condition.StringEquals',
      /no condition keys/,
    ],
    [
      'operator value not an object',
      doc({ ...allow, Condition: { StringEquals: 'x' } }),
      '$.Statement[0].Condition.StringEquals',
      /must map condition keys/,
    ],
    [
      'empty key',
      doc({ ...allow, Condition: { StringEquals: { ' ': 'x' } } }),
      '$.Statement[0].Condition.StringEquals[" "]',
      /empty condition key/,
    ],
    [
      'empty value list',
      doc({ ...allow, Condition: { StringEquals: { 'aws:username': [] } } }),
      '$.Statement[0].Condition.StringEquals["aws:username"]',
      /empty value list/,
    ],
    [
      'object as value',
      doc({ ...allow, Condition: { StringEquals: { 'aws:username': [{}] } } }),
      '$.Statement[0].Condition.StringEquals["aws:username"][0]',
      /string, number or boolean/,
    ],
    [
      'bad number',
      doc({ ...allow, Condition: { NumericLessThan: { 'aws:MultiFactorAuthAge': ['1', 'ten'] } } }),
      '$.Statement[0].Condition.NumericLessThan["aws:MultiFactorAuthAge"][1]',
      /not a number/,
    ],
    [
      'bad date',
      doc({ ...allow, Condition: { DateLessThan: { 'aws:CurrentTime': 'tomorrow' } } }),
      '$.Statement[0].Condition.DateLessThan["aws:CurrentTime"]',
      /not a date/,
    ],
    [
      'bad CIDR',
      doc({ ...allow, Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/40' } } }),
      '$.Statement[0].Condition.IpAddress["aws:SourceIp"]',
      /not an IP address/,
    ],
    [
      'ForAnyValue:Null',
      doc({ ...allow, Condition: { 'ForAnyValue:Null': { 'aws:username': 'true' } } }),
      '$.Statement[0].Condition["ForAnyValue:Null"]',
      /not meaningful/,
    ],
  ];
  for (const [name, input, path, message] of rows) {
    test(name, () => {
      const result = parsePolicy(input);
      assert.ok(!result.ok, 'expected errors');
      const found = result.errors.find((e) => e.path === path);
      assert.ok(found, `no error at ${path}: ${JSON.stringify(result.errors)}`);
      assert.match(found.message, message);
    });
  }
});
