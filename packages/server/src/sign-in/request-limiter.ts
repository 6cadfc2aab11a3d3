import { SesameError } from '../errors.ts';
import { networkOf } from './throttle.ts';

type Options = { limit: number; windowMs: number; maxAddresses?: number; now?: () => number };

/**
 * Requests per address (an IPv6 /64 counts as one) in a fixed window, in memory: for the unauthenticated
 * endpoints that create server-side state (device codes, SSO round trips, reset mails). The table is bounded:
 * past `maxAddresses` the oldest windows are dropped first.
 */
export function createRequestLimiter({ limit, windowMs, maxAddresses = 10_000, now = Date.now }: Options) {
  const windows = createWindows(windowMs, maxAddresses, now);
  return (address: string | null, what: string): void => {
    const entry = windows.current(address);
    entry.count++;
    if (entry.count > limit) throw windows.limited(entry, what);
  };
}

/**
 * Failures per address in a fixed window, for unauthenticated endpoints where only failures should count (agent
 * registrations and handshakes: a fleet behind one NAT registers many servers at once, but a guesser mostly
 * fails). `check` refuses an address that failed `limit` times in this window, before any work is done for it
 * (no store read, no audit row); `failed` counts one more.
 */
export function createFailureLimiter({ limit, windowMs, maxAddresses = 10_000, now = Date.now }: Options) {
  const windows = createWindows(windowMs, maxAddresses, now);
  return {
    /** Whether the address has failed `limit` times in this window. */
    reached(address: string | null): boolean {
      return windows.current(address).count >= limit;
    },
    check(address: string | null, what: string): void {
      const entry = windows.current(address);
      if (entry.count >= limit) throw windows.limited(entry, what);
    },
    failed(address: string | null): void {
      windows.current(address).count++;
    },
  };
}

type Window = { start: number; count: number };

/** Each address's current window (an IPv6 /64 counts as one address); past `maxAddresses` the oldest go first. */
function createWindows(windowMs: number, maxAddresses: number, now: () => number) {
  const windows = new Map<string, Window>();
  return {
    current(address: string | null): Window {
      const key = address ? networkOf(address) : 'unknown';
      const t = now();
      let entry = windows.get(key);
      if (!entry || entry.start + windowMs <= t) {
        windows.delete(key);
        entry = { start: t, count: 0 };
        windows.set(key, entry);
        for (const oldest of windows.keys()) {
          if (windows.size <= maxAddresses) break;
          windows.delete(oldest);
        }
      }
      return entry;
    },
    limited(entry: Window, what: string): SesameError {
      const seconds = Math.ceil((entry.start + windowMs - now()) / 1000);
      return new SesameError('RATE_LIMITED', `too many ${what} from your address: try again in ${seconds} s`);
    },
  };
}
