import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { serverArn } from './arn.ts';
import { createAudit } from './audit.ts';
import { type ServerConfig, throttleSettings } from './config.ts';
import { hashPassword } from './crypto.ts';
import { SesameError } from './errors.ts';
import type { Logger } from './log.ts';
import { auditOnHost, onServerHost, openServerStore } from './open-server-store.ts';
import { createIdentityService } from './services/identity.ts';
import { createThrottle } from './sign-in/throttle.ts';
import { SYSTEM_PRINCIPAL } from './system-principal.ts';

export type Recovery = {
  link: string;
  expiresAt: number;
  wasDisabled: boolean;
  isAdmin: boolean;
  removedDevices: number;
};

/**
 * `sesame-server recover <username>`: the way back in for a person locked out with no administrator to help (the
 * only administrator forgot the password or lost the MFA device). Run on the server's host with the server's own
 * settings. It touches that one account and nothing else (no session, no agent): its MFA devices and sign-ins are
 * removed, its password is replaced by a random one nobody knows (so only the link gets in), it is unlocked and
 * enabled, and a one-time link to set a password is returned; the person registers a new MFA device at the first
 * sign-in. Audited by `system`, with one sesame:RecoverAccount event naming the host and the operating-system user.
 * On SQLite the server must be stopped (its data directory is locked). Whoever can run this can read the
 * database as well: it gives the host's operator nothing they did not have.
 */
export async function recoverAccount(config: ServerConfig, log: Logger, username: string): Promise<Recovery> {
  const where = config.databaseUrl
    ? 'the PostgreSQL database of SESAME_DATABASE_URL'
    : join(config.dataDir, 'sesame.db');
  return onServerHost(config, log, { command: 'recover', keyFile: false }, async () => {
    // On SQLite the data directory is the server's own; a shared database's key must come from the server's settings.
    const { store } = await openServerStore(config, { createKey: !config.databaseUrl });
    try {
      const user = await store.getUserByUsername(username);
      if (!user) throw new SesameError('NOT_FOUND', `no user named "${username}" in ${where}`);
      if (user.source !== 'local')
        throw new SesameError(
          'INVALID',
          `${username} signs in through an identity provider (${user.source}): recover the account there, not with a local password`,
        );
      const audit = createAudit({ store, log });
      const throttle = createThrottle({ store, ...throttleSettings(config) });
      const identity = createIdentityService({
        store,
        guard: () => {}, // the server's own operator, on its host
        audit,
        log,
        arn: config.arn,
        setupTokenTtlMs: config.auth.setupTokenTtlMs,
        publicUrl: () => '',
        mailer: undefined,
        unlock: throttle.unlock,
        makeAdministrator: async () => {},
      });
      // Only the link gets in from here: the old password (which may be known to someone else) no longer works.
      await store.setPasswordHash(user.id, await hashPassword(randomBytes(32).toString('base64url')));
      const removedDevices = await identity.resetMfa(SYSTEM_PRINCIPAL, username);
      await identity.unlock(SYSTEM_PRINCIPAL, username);
      if (user.disabled) await identity.setDisabled(SYSTEM_PRINCIPAL, username, false);
      const { setupToken, setupExpiresAt } = await identity.resetSetup(SYSTEM_PRINCIPAL, username);
      const recovery = {
        wasDisabled: user.disabled,
        isAdmin: user.isAdmin,
        removedDevices,
        expiresAt: setupExpiresAt,
      };
      await auditOnHost(store, log, {
        action: 'sesame:RecoverAccount',
        resource: serverArn(config.arn, 'user', username),
        detail: recovery,
      });
      return { ...recovery, link: `${baseUrl(config)}/reset#token=${setupToken}` };
    } finally {
      await store.close();
    }
  });
}

/** The address people open: SESAME_PUBLIC_URL, else the listen address (a wildcard one is this host only). */
function baseUrl(config: ServerConfig): string {
  if (config.publicUrl) return config.publicUrl;
  const wildcard = config.host === '0.0.0.0' || config.host === '::';
  const host = wildcard || config.host === '127.0.0.1' ? 'localhost' : config.host;
  return `${config.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${config.port}`;
}
