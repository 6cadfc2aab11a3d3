import { hashToken } from '../crypto.ts';
import { SesameError } from '../errors.ts';
import type { Store } from '../store/index.ts';

/** Joins a user name and a device in a lock scope; no user name holds "|" (lockScope sees to typed ones). */
export const DEVICE_SCOPE = '|device:';
/** The one scope of typed names no account can have. */
export const INVALID_NAME_SCOPE = '|invalid-name';

type Deps = {
  store: Pick<Store, 'getThrottle' | 'recordThrottleFailure' | 'releaseThrottleFailure' | 'clearThrottle'>;
  windowMs: number;
  lockoutMs: number;
  limits: { account: number; address: number };
  now?: () => number;
};

/**
 * Counts failed sign-ins per user name (whether or not such a user exists, so a lockout tells nothing) and per
 * source address, in the database so that every replica and a restart see the same counts. Past the limit
 * within the window the key is locked for `lockoutMs`.
 */
export function createThrottle({ store, windowMs, lockoutMs, limits, now = Date.now }: Deps) {
  // The name as typed is not kept: people type their password into the user name field. Its digest is (the
  // device part of a scope after it as it is, so that unlock can clear a name's device scopes by prefix).
  const accountKey = (scope: string) => {
    const at = scope.indexOf(DEVICE_SCOPE);
    const name = at < 0 ? scope : scope.slice(0, at);
    return `user:${hashToken(`throttle:${name.toLowerCase()}`)}${at < 0 ? '' : scope.slice(at)}`;
  };
  // An IPv6 address counts with its /64: one host usually holds a whole /64 and could walk through it.
  const addressKey = (address: string | null) => `addr:${address ? networkOf(address) : 'unknown'}`;

  async function lockedFor(key: string): Promise<number> {
    const t = await store.getThrottle(key);
    return Math.max(0, (t?.lockedUntil ?? 0) - now());
  }

  async function count(
    key: string,
    limit: number,
  ): Promise<{ locked: boolean; over: boolean; wait: number }> {
    const t = await store.recordThrottleFailure({ key, now: now(), windowMs, limit, lockoutMs });
    const wait = Math.max(0, (t.lockedUntil ?? 0) - now());
    return { locked: wait > 0, over: t.failures > limit, wait };
  }

  function refuse(wait: number): never {
    const minutes = Math.max(1, Math.ceil(wait / 60_000));
    throw new SesameError(
      'RATE_LIMITED',
      `too many failed sign-in attempts: try again in ${minutes} minute${minutes === 1 ? '' : 's'}, or ask an administrator to unlock the account`,
    );
  }

  return {
    /** Throws RATE_LIMITED while the account name or the address is locked. */
    async check(scope: string, address: string | null): Promise<void> {
      const wait = Math.max(await lockedFor(accountKey(scope)), await lockedFor(addressKey(address)));
      if (wait > 0) refuse(wait);
    },
    /**
     * Counts an attempt as a failure before its (slow) check, so that attempts sent at once cannot all pass
     * `check` before any of them is counted; `release` takes it back when the check passes. Throws RATE_LIMITED
     * when the account or the address was at its limit already (attempts racing the one that locked it); else
     * says whether this attempt locked one of them, should it fail.
     */
    async reserve(scope: string, address: string | null): Promise<{ locked: boolean }> {
      const account = await count(accountKey(scope), limits.account);
      const addr = await count(addressKey(address), limits.address);
      if (account.over || addr.over) refuse(Math.max(account.wait, addr.wait));
      return { locked: account.locked || addr.locked };
    },
    async release(scope: string, address: string | null): Promise<void> {
      await store.releaseThrottleFailure({ key: accountKey(scope), limit: limits.account });
      await store.releaseThrottleFailure({ key: addressKey(address), limit: limits.address });
    },
    async success(scope: string): Promise<void> {
      await store.clearThrottle(accountKey(scope));
    },
    /** Ends the lock of the account name and of every device's scope of it (see lockScope). */
    async unlock(username: string): Promise<void> {
      await store.clearThrottle(accountKey(username), accountKey(`${username}${DEVICE_SCOPE}`));
    },
  };
}

export type Throttle = ReturnType<typeof createThrottle>;

/** IPv4 (and IPv4-mapped) addresses as they are; IPv6 addresses reduced to their /64 prefix. */
export function networkOf(address: string): string {
  if (!address.includes(':') || /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address))
    return address.replace(/^::ffff:/i, '');
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
