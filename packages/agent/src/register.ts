import { readFile, rm, stat } from 'node:fs/promises';
import { type PostJsonError, postJson } from './http-json.ts';
import { type AgentIdentity, generateAgentKeys, loadIdentity, saveIdentity } from './identity.ts';
import { collectInventory } from './inventory.ts';
import { writePrivateFile } from './private-file.ts';
import { isLoopback, pinnedTlsOptions, pinServerCertificate, plainHttpHint, speaksTls } from './tls-pin.ts';

export type RegisterOptions = {
  url: string;
  activationId: string;
  activationCode: string;
  identityPath: string;
  fingerprint?: string | undefined;
  /** Replace an existing identity (the old instance stays registered until an administrator deletes it). */
  force?: boolean | undefined;
  /** Accept plain http to a server that is not on this machine (anyone on the way can take its shells). */
  insecureHttp?: boolean | undefined;
};

export class RegistrationError extends Error {}

/** Generates a key pair, registers it with an activation, and stores the identity (0600). */
export async function registerAgent(options: RegisterOptions): Promise<AgentIdentity> {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new RegistrationError(
      `--url ${JSON.stringify(options.url)} is not a URL (e.g. https://sesame.example.com)`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new RegistrationError('--url must start with https:// or http://');
  if (url.protocol === 'http:' && !isLoopback(url.hostname) && !options.insecureHttp)
    throw new RegistrationError(
      `--url ${url.origin} is plain http to another machine: anyone on the way could read the activation code, ` +
        "pose as the server and take this agent's shells. Use https (a self-signed certificate is pinned with " +
        '--fingerprint), or pass --insecure-http to accept that risk',
    );
  if (!options.force && (await exists(options.identityPath))) {
    const existing = await loadIdentity(options.identityPath).catch((error: Error) => {
      throw new RegistrationError(`${error.message}; or pass --force to register again as a new instance`);
    });
    throw new RegistrationError(
      `this agent is already registered as ${existing.instanceId} with ${existing.url} (${options.identityPath}); pass --force to register again as a new instance`,
    );
  }
  const tls =
    url.protocol === 'https:'
      ? await pinServerCertificate(url, options.fingerprint).catch((e: Error) => {
          throw new RegistrationError(e.message);
        })
      : null;
  const base = url.href.replace(/\/+$/, '');
  // The key is saved before the activation is spent: a path that cannot be written fails here, with the
  // activation unused, instead of after the server created an instance nobody holds the key of. A key left
  // pending by a registration whose answer was lost is used again: the server answers with that instance.
  const pending = `${options.identityPath}.pending`;
  const left = await pendingKeys(pending, base, options.activationId);
  if (left === 'other')
    throw new RegistrationError(
      `${pending} holds the key of an unfinished registration with another server or activation, which may have gone through: run that registration again to finish it, or delete the file if it never reached the server`,
    );
  const reused = left !== undefined;
  const keys = left ?? generateAgentKeys();
  await writePrivateFile(
    pending,
    `${JSON.stringify({ url: base, activationId: options.activationId, ...keys })}\n`,
  ).catch((error: Error) => {
    throw new RegistrationError(
      `cannot write the agent identity beside ${options.identityPath}: ${error.message}; choose a writable --identity path (nothing was registered)`,
    );
  });
  // Nothing came of this attempt: the key goes, unless an earlier attempt sent it and may have registered it.
  const forget = async () => {
    if (!reused) await rm(pending, { force: true });
  };
  const again = reused
    ? ` An earlier attempt may have registered this agent: its key stays in ${pending}; run the same command again once the server is reachable and the code right`
    : '';
  let response: Awaited<ReturnType<typeof postJson>>;
  try {
    response = await postJson(
      new URL(`${base}/api/v1/agent/register`),
      {
        activationId: options.activationId,
        activationCode: options.activationCode,
        publicKey: keys.publicKey,
        inventory: collectInventory(),
      },
      pinnedTlsOptions(tls),
    );
  } catch (error) {
    const reason = (error as Error).message;
    // An https server hangs up on plain http: said as such, not as a lost answer.
    if (plainHttpHint(base, error as Error) && (await speaksTls(base))) {
      await forget();
      throw new RegistrationError(
        `the Sesame server at ${base} speaks TLS: use ${base.replace(/^http:/, 'https:')} (nothing was registered)`,
      );
    }
    if (!(error as PostJsonError).requestSent) {
      // It never left this machine whole: this attempt registered nothing.
      await forget();
      throw new RegistrationError(`cannot reach the Sesame server at ${base}: ${reason}.${again}`);
    }
    throw new RegistrationError(
      `no answer from the Sesame server at ${base} (${reason}): it may have registered this agent. Run the same command again: it uses the same key (kept in ${pending}), and the server answers with the same instance`,
    );
  }
  if (response.status !== 200) {
    // A refusal (4xx) registered nothing; after a server error, the registration may have gone through.
    if (response.status < 500) await forget();
    const message =
      (response.body.error as { message?: string } | undefined)?.message ?? `HTTP ${response.status}`;
    throw new RegistrationError(
      response.status < 500
        ? `registration refused: ${message}.${again}`
        : `registration failed on the server: ${message}; run the same command again (it uses the same key, kept in ${pending})`,
    );
  }
  const identity: AgentIdentity = {
    version: 1,
    url: base,
    instanceId: String(response.body.instanceId),
    name: String(response.body.name),
    ...keys,
    tls,
  };
  try {
    await saveIdentity(options.identityPath, identity);
  } catch (error) {
    throw new RegistrationError(
      `registered as ${identity.instanceId}, but the identity could not be saved at ${options.identityPath}: ${(error as Error).message}; its key is in ${pending}. Free the space or fix the permissions, then run the same command again: the server answers with the same instance`,
    );
  }
  await rm(pending, { force: true });
  return identity;
}

/**
 * Trusts the server's new certificate after it was replaced (renewed, or a new self-signed one): checks it
 * against `fingerprint` and keeps it in the identity, which is otherwise unchanged (same instance, same key).
 * The running agent keeps the pin it started with until it restarts.
 */
export async function repinAgent(identityPath: string, fingerprint: string): Promise<AgentIdentity> {
  const identity = await loadIdentity(identityPath).catch((error: Error) => {
    throw new RegistrationError(error.message);
  });
  const url = new URL(identity.url);
  if (url.protocol !== 'https:')
    throw new RegistrationError(
      `this agent talks to ${identity.url} over plain http: there is no certificate to pin`,
    );
  const tls = await pinServerCertificate(url, fingerprint).catch((e: Error) => {
    throw new RegistrationError(e.message);
  });
  const updated = { ...identity, tls };
  await saveIdentity(identityPath, updated);
  return updated;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw new RegistrationError(`cannot read the agent identity at ${path}: ${(error as Error).message}`);
  }
}

/**
 * The key pair an unfinished registration left for this server and activation; 'other' when the file holds a key
 * for another server or activation (or from an older version), which may belong to a registered instance.
 */
async function pendingKeys(
  path: string,
  url: string,
  activationId: string,
): Promise<{ privateKey: string; publicKey: string } | 'other' | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined; // none
  }
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined; // damaged (it is written whole or not at all): no key to keep
  }
  const { privateKey, publicKey } = value;
  if (typeof privateKey !== 'string' || typeof publicKey !== 'string') return undefined;
  return value.url === url && value.activationId === activationId ? { privateKey, publicKey } : 'other';
}
