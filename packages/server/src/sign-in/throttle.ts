import { SesameError } from '../errors.ts';
import type { Store } from '../store/index.ts';

type Deps = {
  store: Pick<Store, 'getThrottle' | 'putThrottle' | 'clearThrottle'>;
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
  const accountKey = (username: string) => `user:${username.toLowerCase()}`;
  const addressKey = (address: string | null) => `addr:${address ?? 'unknown'}`;

  async function lockedFor(key: string): Promise<number> {
    const t = await store.getThrottle(key);
    return t?.lockedUntil && t.lockedUntil > now() ? t.lockedUntil - now() : 0;
  }

  async function count(key: string, limit: number): Promise<boolean> {
    const t = now();
    const c = await store.getThrottle(key);
    const fresh = !c || c.windowStart + windowMs <= t || (c.lockedUntil !== null && c.lockedUntil <= t);
    const failures = fresh ? 1 : c.failures + 1;
    const lock = failures >= limit;
    await store.putThrottle({
      key,
      failures,
      windowStart: fresh ? t : c.windowStart,
      lockedUntil: lock ? t + lockoutMs : null,
    });
    return lock;
  }

  return {
    /** Throws RATE_LIMITED while the account name or the address is locked. */
    async check(scope: string, address: string | null): Promise<void> {
      const wait = Math.max(await lockedFor(accountKey(scope)), await lockedFor(addressKey(address)));
      if (wait > 0) {
        const minutes = Math.max(1, Math.ceil(wait / 60_000));
        throw new SesameError(
          'RATE_LIMITED',
          `too many failed sign-in attempts: try again in ${minutes} minute${minutes === 1 ? '' : 's'}, or ask an administrator to unlock the account`,
        );
      }
    },
    /** Records a failure; true when this one locked the account or the address. */
    async failure(scope: string, address: string | null): Promise<boolean> {
      const account = await count(accountKey(scope), limits.account);
      const addr = await count(addressKey(address), limits.address);
      return account || addr;
    },
    async success(scope: string): Promise<void> {
      await store.clearThrottle(accountKey(scope));
    },
    async unlock(scope: string): Promise<void> {
      await store.clearThrottle(accountKey(scope));
    },
  };
}

export type Throttle = ReturnType<typeof createThrottle>;
