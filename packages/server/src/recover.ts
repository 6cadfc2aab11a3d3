import type { ServerConfig } from './config.ts';
import type { Logger } from './log.ts';
import { createServer } from './main.ts';
import { SYSTEM_PRINCIPAL } from './system-principal.ts';

/**
 * `sesame-server recover <username>`: the way back in for a person locked out with no administrator to help (the
 * only administrator forgot the password or lost the MFA device). Run on the server's host, with the server's own
 * settings, while the server is stopped (the data directory is locked otherwise): removes the account's MFA devices,
 * unlocks and enables it, ends its sign-ins, and returns a one-time link to set a new password, after which the
 * person registers a new MFA device. Each step is audited, by `system`. Whoever can run this can read the
 * database as well: it gives the host's operator nothing they did not have.
 */
export async function recoverAccount(config: ServerConfig, log: Logger, username: string): Promise<string> {
  const server = await createServer(config, log);
  try {
    const { identity } = server;
    await identity.getUser(SYSTEM_PRINCIPAL, username); // NOT_FOUND, said plainly, before anything changes
    await identity.resetMfa(SYSTEM_PRINCIPAL, username);
    await identity.unlock(SYSTEM_PRINCIPAL, username);
    await identity.setDisabled(SYSTEM_PRINCIPAL, username, false);
    const { setupToken } = await identity.resetSetup(SYSTEM_PRINCIPAL, username);
    return `${baseUrl(config, server.tlsFingerprint !== undefined)}/reset#token=${setupToken}`;
  } finally {
    await server.close();
  }
}

/** The address people open, as the running server would print it. */
function baseUrl(config: ServerConfig, https: boolean): string {
  if (config.publicUrl) return config.publicUrl;
  const host = config.host === '0.0.0.0' || config.host === '127.0.0.1' ? 'localhost' : config.host;
  return `${https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${config.port}`;
}
