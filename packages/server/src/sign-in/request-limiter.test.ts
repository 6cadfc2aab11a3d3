import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFailureLimiter, createRequestLimiter } from './request-limiter.ts';
import { networkOf } from './throttle.ts';

test('a fixed window per address: the limit, then RATE_LIMITED saying when, then a new window', () => {
  let t = 0;
  const limit = createRequestLimiter({ limit: 3, windowMs: 60_000, now: () => t });
  for (let i = 0; i < 3; i++) limit('192.0.2.1', 'device codes');
  assert.throws(() => limit('192.0.2.1', 'device codes'), {
    code: 'RATE_LIMITED',
    message: /too many device codes from your address: try again in 60 s/,
  });
  limit('192.0.2.2', 'device codes');
  t = 60_000;
  limit('192.0.2.1', 'device codes');
});

test('an IPv6 /64 is one address; the table stays bounded', () => {
  let t = 0;
  const limit = createRequestLimiter({ limit: 1, windowMs: 60_000, maxAddresses: 100, now: () => t });
  limit('2001:db8:1:2::1', 'x');
  assert.throws(() => limit('2001:db8:1:2:ffff::9', 'x'), { code: 'RATE_LIMITED' });
  for (let i = 0; i < 1000; i++) limit(`198.51.100.${i % 250}-${i}`, 'x');
  t = 1;
  // The table kept only the newest 100 addresses: this one was dropped, so it starts a new window.
  assert.doesNotThrow(() => limit('2001:db8:1:2::1', 'x'));
});

test('networkOf: IPv4 as is, IPv4-mapped unwrapped, IPv6 to its /64', () => {
  assert.equal(networkOf('192.0.2.7'), '192.0.2.7');
  assert.equal(networkOf('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(networkOf('2001:db8:0:1::5'), '2001:db8:0:1::/64');
  assert.equal(networkOf('2001:0db8:0000:0001:aaaa:bbbb:cccc:dddd'), '2001:db8:0:1::/64');
  assert.equal(networkOf('::1'), '0:0:0:0::/64');
});

test('a failure limiter counts only failures, and refuses before the work once the limit is reached', () => {
  let t = 0;
  const failures = createFailureLimiter({ limit: 2, windowMs: 60_000, now: () => t });
  for (let i = 0; i < 10; i++) failures.check('192.0.2.1', 'failed registrations'); // successes cost nothing
  failures.failed('192.0.2.1');
  failures.check('192.0.2.1', 'failed registrations');
  failures.failed('192.0.2.1');
  assert.equal(failures.reached('192.0.2.1'), true);
  assert.equal(failures.reached('192.0.2.2'), false);
  t = 15_000;
  assert.throws(() => failures.check('192.0.2.1', 'failed registrations'), {
    code: 'RATE_LIMITED',
    message: /too many failed registrations from your address: try again in 45 s/,
  });
  failures.check('192.0.2.2', 'failed registrations');
  t = 60_000;
  failures.check('192.0.2.1', 'failed registrations');
});
