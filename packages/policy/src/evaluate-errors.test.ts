import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type CompiledPolicySet, compilePolicies } from './compiled-policy-set.ts';
import { evaluate } from './evaluate.ts';
import { parsePolicy } from './parse-policy.ts';

function compile(...statements: unknown[]): CompiledPolicySet {
  const result = parsePolicy({ Version: '2012-10-17', Statement: statements });
  assert.ok(result.ok, JSON.stringify(result));
  return compilePolicies([{ id: 'p', policy: result.policy }]);
}

describe('bad input denies and reports, never allows', () => {
  const set = compile({ Effect: 'Allow', Action: '*', Resource: '*' });
  for (const [name, request] of [
    ['missing action', { resource: '*' }],
    ['empty resource', { action: 'ssm:StartSession', resource: '' }],
    [
      'a number in the context',
      { action: 'ssm:StartSession', resource: '*', context: { 'aws:username': 5 } },
    ],
    ['null request', null],
  ] as const) {
    test(name, () => {
      const errors: unknown[] = [];
      const reporting = compile({
        Effect: 'Allow',
        Action: '*',
        Resource: '*',
        Condition: { StringLike: { 'aws:username': '*' } },
      });
      const withLog = compilePolicies([], { onError: (error) => errors.push(error) });
      for (const target of [set, reporting, withLog]) {
        const decision = evaluate(target, request as never);
        assert.equal(decision.allowed, false);
        assert.equal(decision.effect, 'Deny');
        assert.ok(decision.error);
      }
      assert.equal(errors.length, 1);
    });
  }

  test('a throwing logger does not turn a deny into an exception', () => {
    const failing = compilePolicies([], {
      onError: () => {
        throw new Error('logger down');
      },
    });
    assert.equal(evaluate(failing, { action: '', resource: '*' }).allowed, false);
  });

  test('a context key spelled twice with different values is refused', () => {
    const context = { 'aws:username': 'alice', 'AWS:USERNAME': 'bob' };
    const decision = evaluate(
      compile({
        Effect: 'Allow',
        Action: '*',
        Resource: '*',
        Condition: { StringEquals: { 'aws:username': 'alice' } },
      }),
      {
        action: 'ssm:StartSession',
        resource: '*',
        context,
      },
    );
    assert.equal(decision.allowed, false);
    assert.match(decision.error ?? '', /different values/);
  });
});
