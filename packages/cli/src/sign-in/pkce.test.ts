import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newPkce, newState, pkceChallenge, statesMatch } from './pkce.ts';

test('the S256 challenge matches RFC 7636 appendix B', () => {
  assert.equal(
    pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'),
    'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  );
});

test('a new verifier is 43 base64url characters, fresh each time, with its challenge', () => {
  const a = newPkce();
  const b = newPkce();
  assert.match(a.verifier, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a.verifier, b.verifier);
  assert.equal(a.challenge, pkceChallenge(a.verifier));
  assert.equal(a.method, 'S256');
});

test('the state must come back exactly', () => {
  const state = newState();
  assert.match(state, /^[A-Za-z0-9_-]{32}$/);
  assert.equal(statesMatch(state, state), true);
  assert.equal(statesMatch(state, `${state}x`), false);
  assert.equal(statesMatch(state, state.slice(1)), false);
  assert.equal(statesMatch(state, ''), false);
  assert.equal(statesMatch(state, null), false);
  assert.equal(statesMatch(state, undefined), false);
});
