import { type ArnSettings, serverArn } from '../arn.ts';
import type { Audit } from '../audit.ts';
import type { Principal } from '../authorize.ts';
import { SesameError } from '../errors.ts';
import type { Guard } from '../guard.ts';
import type { Logger } from '../log.ts';
import { SesameStoreError, type Store } from '../store/index.ts';
import { DEFAULT_MFA_SETTINGS, type MfaSettings, parseMfaSettings } from './mfa-settings.ts';

type Deps = {
  store: Pick<Store, 'getSetting' | 'putSetting'>;
  guard: Guard;
  audit: Audit;
  arn: ArnSettings;
  mailConfigured: boolean;
  log: Pick<Logger, 'error'>;
  now?: () => number;
};

const CACHE_MS = 10_000;

/** The server's MFA policy, as an administrator sets it (the seed guide's AWS SSO "MFA settings" page). */
export function createMfaSettingsService({
  store,
  guard,
  audit,
  arn,
  mailConfigured,
  log,
  now = Date.now,
}: Deps) {
  const resource = serverArn(arn, 'setting', 'mfa');
  // Cached briefly: every sign-in reads it, and another replica's change must still arrive soon.
  let cached: { value: MfaSettings; at: number } | undefined;

  async function current(): Promise<MfaSettings> {
    if (cached && now() - cached.at < CACHE_MS) return cached.value;
    let value = DEFAULT_MFA_SETTINGS;
    try {
      // A stored value is re-validated: a damaged row (not JSON, or not valid settings) falls back to the strict
      // default, never to "no MFA".
      const stored = await store.getSetting('mfa');
      if (stored !== undefined) value = parseMfaSettings(stored);
    } catch (error) {
      // Only a damaged row falls back. A database that cannot be read fails the sign-in, as everywhere else:
      // the defaults are not stricter than every setting an administrator can choose.
      if (error instanceof SesameStoreError && error.code !== 'DAMAGED') throw error;
      log.error({ err: (error as Error).message }, 'stored MFA settings are damaged; using the defaults');
    }
    cached = { value, at: now() };
    return value;
  }

  return {
    current,
    async get(principal: Principal): Promise<MfaSettings> {
      guard(principal, 'sesame:GetMfaSettings', resource);
      return current();
    },
    async update(principal: Principal, input: unknown): Promise<MfaSettings> {
      guard(principal, 'sesame:UpdateMfaSettings', resource);
      const next = parseMfaSettings(input, await current());
      if (next.withoutDevice === 'email-code' && !mailConfigured)
        throw new SesameError(
          'INVALID',
          'withoutDevice "email-code" needs a mail server: configure smtp (config file or SESAME_SMTP_* variables) first',
        );
      await store.putSetting('mfa', next, now());
      cached = { value: next, at: now() };
      await audit({
        actor: principal,
        action: 'sesame:UpdateMfaSettings',
        resource,
        outcome: 'succeeded',
        detail: next,
      });
      return next;
    },
  };
}

export type MfaSettingsService = ReturnType<typeof createMfaSettingsService>;
