// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are spelled ${…} in policy text.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseJson } from './json-parse.ts';

describe('parseJson', () => {
  test('reads what JSON.parse reads', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const text = JSON.stringify(value, null, 2);
        const result = parseJson(text, 32);
        assert.ok(result.ok);
        assert.deepEqual(JSON.parse(JSON.stringify(result.value)), JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  test('rejects what JSON.parse rejects (random edits of valid JSON)', () => {
    const edited = fc
      .tuple(
        fc.jsonValue({ maxDepth: 3 }),
        fc.nat(),
        fc.constantFrom('', ',', '"', '}', ']', ':', '1', ' ', 'x', '\\'),
      )
      .map(([value, at, insert]) => {
        const text = JSON.stringify(value);
        const i = at % (text.length + 1);
        return insert === ''
          ? text.slice(0, i) + text.slice(i + 1)
          : text.slice(0, i) + insert + text.slice(i);
      });
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 20 }), edited), (text) => {
        let valid = true;
        try {
          JSON.parse(text);
        } catch {
          valid = false;
        }
        assert.equal(parseJson(text, 32).ok, valid, JSON.stringify(text));
      }),
      { numRuns: 2000 },
    );
  });

  const errors: [string, number, number, RegExp][] = [
    ['{"a": 1,}', 1, 9, /comma cannot come before "}"/],
    ['[1, 2,]', 1, 7, /comma cannot come before "]"/],
    ['{\n  "a": 1\n  "b": 2\n}', 3, 3, /expected "," or "}" after a value but found "\\""/],
    ["{'a': 1}", 1, 2, /double quotes/],
    ['{"a": tru}', 1, 7, /expected a value/],
    ['{"a": "x', 1, 7, /never closed/],
    ['{"a": "\\q"}', 1, 8, /unknown escape/],
    ['{"a": "\\u12"}', 1, 8, /four hexadecimal digits/],
    ['{"a": 01}', 1, 8, /expected "," or "}"/],
    ['{"a": "line\nbreak"}', 1, 12, /control character/],
    ['{} {}', 1, 4, /after the end of the document/],
    ['', 1, 1, /expected a value but found end of input/],
  ];
  for (const [text, line, column, message] of errors) {
    test(`locates the error in ${JSON.stringify(text)}`, () => {
      const result = parseJson(text, 32);
      assert.ok(!result.ok);
      assert.equal(result.error.line, line);
      assert.equal(result.error.column, column);
      assert.match(result.error.message, message);
      assert.match(result.error.message, new RegExp(`line ${line}, column ${column}`));
    });
  }

  test('reports every duplicate key with its place', () => {
    const result = parseJson(
      '{"Condition": {\n "StringEquals": {"a": "1"},\n "StringEquals": {"b": "2"}}}',
      32,
    );
    assert.ok(result.ok);
    assert.equal(result.duplicates.length, 1);
    assert.equal(result.duplicates[0]?.path, '$.Condition.StringEquals');
    assert.equal(result.duplicates[0]?.line, 3);
  });

  test('caps nesting depth instead of overflowing the stack', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const result = parseJson(deep, 32);
    assert.ok(!result.ok);
    assert.match(result.error.message, /deeper than 32/);
  });

  test('skips a byte-order mark and keeps __proto__ as a plain key', () => {
    const result = parseJson('\uFEFF{"__proto__": {"x": 1}}', 32);
    assert.ok(result.ok);
    const value = result.value as Record<string, unknown>;
    assert.deepEqual(Object.keys(value), ['__proto__']);
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });

  test('locates values by path', () => {
    const result = parseJson('{\n  "Statement": [\n    {"Sid": "A"}\n  ]\n}', 32);
    assert.ok(result.ok);
    assert.deepEqual(result.locate('$.Statement[0].Sid'), { line: 3, column: 6 });
    assert.equal(result.locate('$.Nope'), undefined);
  });
});
