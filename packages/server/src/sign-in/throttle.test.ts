import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { rejects, serviceFixture } from '../services/service-fixture.ts';
import { createThrottle, DEVICE_SCOPE, type Throttle } from './throttle.ts';

const MINUTE = 60_000;
const WINDOW_MS = 15 * MINUTE;
const LOCKOUT_MS = 10 * MINUTE;
const HERE = '192.0.2.10';
const THERE = '198.51.100.20';
const LOCKED = /too many failed sign-in attempts: try again in 10 minutes, or ask an administrator/;

let f: Awaited<ReturnType<typeof serviceFixture>>;
let throttle: Throttle;

beforeEach(async () => {
  f = await serviceFixture();
  throttle = createThrottle({
    store: f.store,
    windowMs: WINDOW_MS,
    lockoutMs: LOCKOUT_MS,
    limits: { account: 3, address: 5 },
    now: f.now,
  });
});
afterEach(() => f.store.close());

/** One failed attempt as the sign-in service counts it (reserved before its check, which then failed). */
async function failed(t: Throttle, scope: string, address: string | null): Promise<boolean> {
  return (await t.reserve(scope, address)).locked;
}

let spread = 0;
/** `n` failures for `name`, each from another address (so only the account counts), unless one is given. */
async function fail(name: string, n: number, address?: string): Promise<boolean[]> {
  const locked: boolean[] = [];
  for (let i = 0; i < n; i++)
    locked.push(await failed(throttle, name, address ?? `203.0.113.${(spread++ % 250) + 1}`));
  return locked;
}

describe('sign-in throttle: per account', () => {
  test('the limit-th failure locks the account; the check then says how long and what to do', async () => {
    assert.deepEqual(await fail('alice', 2), [false, false], 'two failures must not lock (limit 3)');
    await throttle.check('alice', HERE);
    assert.deepEqual(await fail('alice', 1), [true], 'the third failure must report that it locked');
    await rejects(throttle.check('alice', HERE), 'RATE_LIMITED', LOCKED);
    await rejects(throttle.check('alice', THERE), 'RATE_LIMITED', LOCKED); // the account, from anywhere
    await throttle.check('bob', HERE); // another account is not affected
  });

  test('the minutes left round up and never say 0', async () => {
    await fail('alice', 3);
    f.advance(LOCKOUT_MS - 90_000);
    await rejects(throttle.check('alice', HERE), 'RATE_LIMITED', /try again in 2 minutes/);
    f.advance(60_000);
    await rejects(throttle.check('alice', HERE), 'RATE_LIMITED', /try again in 1 minute,/);
    f.advance(29_999);
    await rejects(throttle.check('alice', HERE), 'RATE_LIMITED', /try again in 1 minute,/);
  });

  test('a lockout ends after lockoutMs, and counting then starts afresh', async () => {
    await fail('alice', 3);
    f.advance(LOCKOUT_MS - 1);
    await rejects(throttle.check('alice', HERE), 'RATE_LIMITED', /1 minute/);
    f.advance(1);
    await throttle.check('alice', HERE);
    assert.deepEqual(
      await fail('alice', 3),
      [false, false, true],
      'after a lockout ended, one more failure must not lock again at once',
    );
  });

  test('failures older than the window are forgotten', async () => {
    await fail('alice', 2);
    f.advance(WINDOW_MS);
    assert.deepEqual(await fail('alice', 2), [false, false], 'the window restarted: 2 failures, no lock');
    await throttle.check('alice', HERE);
    f.advance(WINDOW_MS - 1);
    assert.deepEqual(await fail('alice', 1), [true], 'within the new window the third failure locks');
  });

  test('the name as typed is not kept (it may be a password typed in the wrong field), only its digest', async () => {
    const keys: string[] = [];
    const seen = createThrottle({
      store: {
        getThrottle: (key) => f.store.getThrottle(key),
        recordThrottleFailure: (failure) => {
          keys.push(failure.key);
          return f.store.recordThrottleFailure(failure);
        },
        releaseThrottleFailure: (release) => f.store.releaseThrottleFailure(release),
        clearThrottle: (key, prefix) => f.store.clearThrottle(key, prefix),
      },
      windowMs: WINDOW_MS,
      lockoutMs: LOCKOUT_MS,
      limits: { account: 3, address: 5 },
      now: f.now,
    });
    for (let i = 0; i < 3; i++) await failed(seen, 'Summer2024!', `203.0.113.${200 + i}`);
    await rejects(seen.check('summer2024!', THERE), 'RATE_LIMITED', LOCKED);
    assert.ok(keys.length > 0);
    for (const key of keys) assert.doesNotMatch(key.toLowerCase(), /summer/);
    // A device's scope of that name is cleared with the name by unlock (by the digest's prefix).
    const device = `Summer2024!${DEVICE_SCOPE}abc`;
    for (let i = 0; i < 3; i++) await failed(seen, device, `203.0.113.${210 + i}`);
    await rejects(seen.check(device, '198.51.100.99'), 'RATE_LIMITED', LOCKED);
    await seen.unlock('summer2024!');
    await seen.check(device, '198.51.100.99');
    await seen.check('Summer2024!', '198.51.100.99');
  });

  test('user names are counted case-insensitively', async () => {
    await failed(throttle, 'Alice', HERE);
    await failed(throttle, 'ALICE', HERE);
    assert.equal(await failed(throttle, 'alice', HERE), true, '"Alice", "ALICE" and "alice" are one account');
    await rejects(throttle.check('aLiCe', HERE), 'RATE_LIMITED', LOCKED);
  });

  test('a success clears the account count; unlock clears a lockout', async () => {
    await fail('alice', 2);
    await throttle.success('alice');
    assert.deepEqual(await fail('alice', 2), [false, false], 'the success must have reset the count');
    await fail('bob', 3);
    await throttle.unlock('bob');
    await throttle.check('bob', HERE);
    assert.deepEqual(await fail('bob', 1), [false], 'after unlock, counting starts at zero');
  });

  test('an unknown user name is counted and locked exactly like a known one', async () => {
    assert.deepEqual(await fail('nobody-by-this-name', 3), [false, false, true]);
    const unknown = await rejects(throttle.check('nobody-by-this-name', THERE), 'RATE_LIMITED', LOCKED);
    await fail('alice', 3, THERE);
    assert.equal(await rejects(throttle.check('alice', HERE), 'RATE_LIMITED', LOCKED), unknown);
  });
});

describe('sign-in throttle: attempts counted before their check', () => {
  test('of attempts reserved at once, only as many as the limit go on; a released one ends the lock it made', async () => {
    const answers = await Promise.allSettled(
      Array.from({ length: 8 }, () => throttle.reserve('alice', HERE)),
    );
    const going = answers.filter((a) => a.status === 'fulfilled');
    assert.equal(going.length, 3, 'limit 3: three attempts go on to be checked');
    assert.deepEqual(
      going.map((a) => a.value.locked).sort(),
      [false, false, true],
      'the third would lock, should it fail',
    );
    for (const a of answers.filter((x) => x.status === 'rejected'))
      assert.match(String(a.reason.message), LOCKED);
    await rejects(throttle.check('alice', THERE), 'RATE_LIMITED', LOCKED);
    await throttle.reserve('bob', THERE);
    await throttle.reserve('bob', THERE);
    assert.deepEqual(await throttle.reserve('bob', THERE), { locked: true });
    await throttle.release('bob', THERE);
    await throttle.check('bob', THERE); // the lock needed the released attempt: gone
    assert.equal(await failed(throttle, 'bob', '203.0.113.77'), true, 'two failures left: the third locks');
  });
});

describe('sign-in throttle: per source address', () => {
  test('failures for many names from one address lock that address for every name', async () => {
    const names = ['a1', 'a2', 'a3', 'a4', 'a5'];
    const locks: boolean[] = [];
    for (const name of names) locks.push(await failed(throttle, name, HERE));
    assert.deepEqual(locks, [false, false, false, false, true], 'the 5th failure from one address locks it');
    await rejects(throttle.check('someone-else', HERE), 'RATE_LIMITED', LOCKED);
    await throttle.check('someone-else', THERE); // another address is fine
  });

  test('a success clears the account, not the address', async () => {
    await fail('a1', 2, HERE);
    await fail('a2', 2, HERE);
    await throttle.success('a1');
    assert.equal(await failed(throttle, 'a3', HERE), true, 'the address had 4 failures: the 5th locks it');
  });

  test('requests with no known address share one counter', async () => {
    for (const name of ['b1', 'b2', 'b3', 'b4']) await failed(throttle, name, null);
    assert.equal(await failed(throttle, 'b5', null), true);
    await rejects(throttle.check('b6', null), 'RATE_LIMITED', LOCKED);
  });

  test('the address lockout ends too', async () => {
    for (const name of ['c1', 'c2', 'c3', 'c4', 'c5']) await failed(throttle, name, HERE);
    f.advance(LOCKOUT_MS);
    await throttle.check('c6', HERE);
  });
});
