import { SesameError } from '../errors.ts';
import { networkOf } from './throttle.ts';

type Options = { limit: number; windowMs: number; maxAddresses?: number; now?: () => number };

/**
 * Requests per address (an IPv6 /64 counts as one) in a fixed window, in memory: for the unauthenticated
 * endpoints that create server-side state (device codes, SSO round trips, reset mails). The table is bounded:
 * past `maxAddresses` the oldest windows are dropped first.
 */
export function createRequestLimiter({ limit, windowMs, maxAddresses = 10_000, now = Date.now }: Options) {
  const windows = new Map<string, { start: number; count: number }>();
  return (address: string | null, what: string): void => {
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
    entry.count++;
    if (entry.count > limit) {
      const seconds = Math.ceil((entry.start + windowMs - t) / 1000);
      throw new SesameError('RATE_LIMITED', `too many ${what} from your address: try again in ${seconds} s`);
    }
  };
}
