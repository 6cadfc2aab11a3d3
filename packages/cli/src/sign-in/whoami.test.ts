import assert from 'node:assert/strict';
import { test } from 'node:test';
import { timeUntil, whoamiLines } from './whoami.ts';

test('time left reads like a person would say it', () => {
  const now = 1_000_000;
  assert.equal(timeUntil(now + 40_000, now), 'in 40 seconds');
  assert.equal(timeUntil(now + 60_000, now), 'in 1 minute');
  assert.equal(timeUntil(now + 59 * 60_000 + 5, now), 'in 59 minutes');
  assert.equal(timeUntil(now + 3 * 3_600_000, now), 'in 3 hours');
  assert.equal(timeUntil(now + 3_600_000 + 5 * 60_000, now), 'in 1 hour 5 minutes');
  assert.equal(timeUntil(now - 1, now), 'ended');
});

test('whoami shows groups, tags, permission sets, the sign-in and its MFA', () => {
  const now = Date.UTC(2025, 0, 1, 10, 0, 0);
  const text = whoamiLines(
    {
      userId: 'u1',
      username: 'alice',
      email: 'alice@example.com',
      groups: ['ops', { name: 'ProductionAccess' }],
      tags: { team: 'web', env: 'prod' },
      permissionSets: ['Prod'],
      signIn: {
        method: 'sso',
        provider: 'okta',
        expiresAt: now + 3_600_000,
        mfa: { present: true, authenticatedAt: now - 60_000, method: 'totp' },
      },
    },
    'https://sesame.example.com',
    now,
  ).join('\n');
  assert.match(text, /^user: +alice$/m);
  assert.match(text, /^groups: +ops, ProductionAccess$/m);
  assert.match(text, /^tags: +team=web, env=prod$/m);
  assert.match(text, /^permission sets: Prod$/m);
  assert.match(text, /^signed in with: +sso \(okta\)$/m);
  assert.match(text, /^MFA: +yes, totp at 2025-01-01T09:59:00Z$/m);
  assert.match(text, /^sign-in expires: 2025-01-01T11:00:00Z \(in 1 hour\)$/m);
});

test('whoami without MFA or groups says so', () => {
  const text = whoamiLines({ userId: 'u', username: 'bob', signIn: { method: 'password' } }, 'http://x').join(
    '\n',
  );
  assert.match(text, /^groups: +-$/m);
  assert.match(text, /^MFA: +no$/m);
});
