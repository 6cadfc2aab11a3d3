// Test support (not a test itself): condition tables shared by the condition test files.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileCondition, evaluateCondition } from './compile-condition.ts';
import { type ContextValue, RequestContext } from './request-context.ts';

export const KEY = 'aws:k';
export type Row = [
  operator: string,
  values: string | string[],
  context: ContextValue | undefined,
  expected: boolean,
];

export function holds(
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

export function table(name: string, rows: Row[]) {
  describe(name, () => {
    for (const [operator, values, context, expected] of rows) {
      test(`${operator} ${JSON.stringify(values)} with ${context === undefined ? 'key absent' : JSON.stringify(context)} → ${expected}`, () => {
        assert.equal(holds(operator, values, { [KEY]: context }), expected);
      });
    }
  });
}
