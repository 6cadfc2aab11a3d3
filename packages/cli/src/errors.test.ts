import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExitCodes, exitCodeFor } from './errors.ts';

test("a server error code maps to the README's exit code; an unknown one is a plain failure", () => {
  assert.deepEqual(
    ['INVALID', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'UNAVAILABLE', 'RATE_LIMITED'].map(
      exitCodeFor,
    ),
    [2, 3, 4, 5, 6, 7, 8],
  );
  assert.equal(exitCodeFor('RATE_LIMITED'), ExitCodes.RATE_LIMITED, 'a locked account is not a crash (1)');
  for (const other of ['INTERNAL', 'OK', 'toString', undefined, 42]) assert.equal(exitCodeFor(other), 1);
});
