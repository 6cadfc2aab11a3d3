import type { Credentials } from './credentials.ts';

/** Refresh this long before the access token expires, so a request does not race its expiry. */
export const REFRESH_MARGIN_MS = 60_000;

export type RefreshDecision = 'use' | 'refresh' | 'ended';

/**
 * What to do with stored credentials before a request: use the access token, refresh it first (expired or
 * within a minute of expiry), or give up because the sign-in session itself is over (or the token expired and
 * there is no refresh token to renew it with).
 */
export function refreshDecision(
  credentials: Pick<Credentials, 'expiresAt' | 'refreshToken' | 'sessionExpiresAt'>,
  now: number,
): RefreshDecision {
  if (credentials.sessionExpiresAt !== undefined && credentials.sessionExpiresAt <= now) return 'ended';
  if (credentials.expiresAt - REFRESH_MARGIN_MS > now) return 'use';
  if (credentials.refreshToken) return 'refresh';
  return credentials.expiresAt > now ? 'use' : 'ended';
}
