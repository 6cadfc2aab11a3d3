import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REFRESH_MARGIN_MS, refreshDecision } from './token-refresh.ts';

const now = 1_700_000_000_000;
const later = (ms: number) => now + ms;

test('a token with more than a minute left is used as it is', () => {
  assert.equal(
    refreshDecision(
      { expiresAt: later(REFRESH_MARGIN_MS + 1), refreshToken: 'rft_x', sessionExpiresAt: later(3_600_000) },
      now,
    ),
    'use',
  );
});

test('a token expired or within a minute of expiry is refreshed', () => {
  for (const expiresAt of [later(REFRESH_MARGIN_MS), later(1), now, now - 5_000])
    assert.equal(
      refreshDecision({ expiresAt, refreshToken: 'rft_x', sessionExpiresAt: later(3_600_000) }, now),
      'refresh',
    );
});

test('once the sign-in session is over nothing is refreshed', () => {
  assert.equal(
    refreshDecision({ expiresAt: now - 1, refreshToken: 'rft_x', sessionExpiresAt: now }, now),
    'ended',
  );
  assert.equal(
    refreshDecision({ expiresAt: later(600_000), refreshToken: 'rft_x', sessionExpiresAt: now - 1 }, now),
    'ended',
  );
});

test('credentials from before refresh tokens: used until they expire, then ended', () => {
  assert.equal(refreshDecision({ expiresAt: later(30_000) }, now), 'use');
  assert.equal(refreshDecision({ expiresAt: now }, now), 'ended');
});
