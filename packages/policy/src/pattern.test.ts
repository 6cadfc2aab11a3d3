// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are spelled ${…} in policy text.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MATCH, NO_MATCH, Pattern, UNRESOLVED } from './pattern.ts';
import { RequestContext } from './request-context.ts';
import { parseTemplate } from './template.ts';

function pattern(source: string, ignoreCase = false): Pattern {
  const parts = parseTemplate(ignoreCase ? source.toLowerCase() : source, {
    variables: true,
    wildcards: true,
  });
  assert.ok(Array.isArray(parts), JSON.stringify(parts));
  return new Pattern(source, parts, ignoreCase);
}

const USER = RequestContext.from({ 'aws:username': 'alice', 'aws:PrincipalTag/glob': 'a*?' });

describe('wildcard edge cases', () => {
  const rows: [string, string, boolean][] = [
    ['*', '', true],
    ['*', 'anything:at/all', true],
    ['**', 'x', true],
    ['', '', true],
    ['', 'x', false],
    ['abc', 'abc', true],
    ['abc', 'abcd', false],
    ['abc', 'ab', false],
    ['ab*', 'ab', true],
    ['ab*', 'a', false],
    ['*bc', 'bc', true],
    ['*bc', 'abcc', false],
    ['*bc*', 'xbcx', true],
    ['a*a', 'a', false],
    ['a*a', 'aa', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'abbbc', true],
    ['a*b*c', 'acbc', true],
    ['a*b*c', 'acb', false],
    ['*a*a*a*', 'aaa', true],
    ['*a*a*a*', 'aa', false],
    ['???', 'abc', true],
    ['???', 'ab', false],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['?*', '', false],
    ['?*', 'x', true],
    ['*?', 'x', true],
    ['*x?z*', 'xxyz', true],
    ['arn:aws:ec2:*:*:instance/*', 'arn:aws:ec2:local:000000000000:instance/i-0123456789abcdef0', true],
    ['arn:aws:ec2:*:*:instance/*', 'arn:aws:ssm:local:000000000000:managed-instance/mi-1', false],
    // Resource patterns are matched as a whole: a * may span colons, as AWS allows at the end of a segment.
    ['arn:aws:logs:*:*:log-group:*', 'arn:aws:logs:r:1:log-group:g:log-stream:s', true],
    ['arn:aws:ssm:*:*:session/${aws:username}-*', 'arn:aws:ssm:local:0:session/alice-0123', true],
    ['arn:aws:ssm:*:*:session/${aws:username}-*', 'arn:aws:ssm:local:0:session/alicex-0123', false],
    ['arn:aws:ssm:*:*:session/${aws:username}-*', 'arn:aws:ssm:local:0:session/bob-0123', false],
    ['${aws:PrincipalTag/glob}', 'a*?', true],
    ['${aws:PrincipalTag/glob}', 'abc', false],
    ['x${*}', 'x*', true],
    ['x${*}', 'xy', false],
  ];
  for (const [source, input, expected] of rows) {
    test(`${JSON.stringify(source)} ~ ${JSON.stringify(input)} → ${expected}`, () => {
      assert.equal(pattern(source).match(input, USER), expected ? MATCH : NO_MATCH);
    });
  }

  test('a missing variable is UNRESOLVED, never a match', () => {
    assert.equal(
      pattern('session/${aws:username}-*').match('session/-1', RequestContext.from({})),
      UNRESOLVED,
    );
    assert.equal(pattern('${aws:PrincipalTag/x}').match('', undefined), UNRESOLVED);
  });

  test('case-insensitive patterns (actions)', () => {
    assert.equal(pattern('SSM:Start*', true).match('ssm:startsession', undefined), MATCH);
    assert.equal(pattern('ssm:StartSession', true).match('ssm:startsession', undefined), MATCH);
    assert.equal(pattern('ssm:?tartSession', true).match('ssm:startsessions', undefined), NO_MATCH);
  });

  test('matching a range of the input (ARN parts)', () => {
    const p = pattern('us-*');
    assert.equal(p.match('arn:aws:ec2:us-east-1:1:x', undefined, 12, 21), MATCH);
    assert.equal(p.match('arn:aws:ec2:eu-west-1:1:x', undefined, 12, 21), NO_MATCH);
    assert.equal(pattern('*-1').match('us-east-1:22', undefined, 0, 9), MATCH);
  });
});

/** The obvious reference: a pattern as an anchored RegExp. */
function reference(source: string, input: string): boolean {
  const body = [...source].map((c) =>
    c === '*' ? '[\\s\\S]*' : c === '?' ? '[\\s\\S]' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
  );
  return new RegExp(`^${body.join('')}$`, 'u').test(input);
}

test('wildcard matching agrees with a RegExp reference on random patterns', () => {
  const alphabet = fc.constantFrom('a', 'b', ':', '/', '*', '?');
  const text = fc.constantFrom('a', 'b', ':', '/');
  fc.assert(
    fc.property(
      fc.string({ unit: alphabet, maxLength: 8 }),
      fc.string({ unit: text, maxLength: 10 }),
      (source, input) => {
        const expected = reference(source, input);
        assert.equal(pattern(source).match(input, undefined) === MATCH, expected, `${source} ~ ${input}`);
      },
    ),
    { numRuns: 5000 },
  );
});
