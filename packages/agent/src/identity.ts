import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { writePrivateFile } from './private-file.ts';

/** What a registered agent keeps: who it is, its private key, and how to trust its server. */
export type AgentIdentity = {
  version: 1;
  url: string;
  instanceId: string;
  name: string;
  privateKey: string; // PKCS#8 PEM, Ed25519
  publicKey: string; // base64 DER SPKI
  tls: { fingerprint256: string; caPem: string } | null; // a pinned self-signed server certificate
};

export function generateAgentKeys(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
  };
}

/** Written with mode 0600 in a private directory, atomically and durably (see writePrivateFile). */
export async function saveIdentity(path: string, identity: AgentIdentity): Promise<void> {
  await writePrivateFile(path, `${JSON.stringify(identity, null, 2)}\n`);
}

export class IdentityError extends Error {}

export async function loadIdentity(path: string): Promise<AgentIdentity> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new IdentityError(
      code === 'ENOENT'
        ? `no agent identity at ${path}: register first with \`sesame-agent register --url … --activation-id … --activation-code …\``
        : `cannot read the agent identity at ${path}: ${(error as Error).message}`,
    );
  }
  let value: Partial<AgentIdentity>;
  try {
    value = JSON.parse(text) as Partial<AgentIdentity>;
  } catch {
    throw new IdentityError(`the agent identity at ${path} is not valid JSON; register the agent again`);
  }
  const damaged = (what: string) =>
    new IdentityError(`the agent identity at ${path} ${what}; register the agent again`);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw damaged('is not a JSON object');
  for (const key of ['url', 'instanceId', 'name', 'privateKey', 'publicKey'] as const) {
    if (typeof value[key] !== 'string' || value[key] === '') throw damaged(`lacks "${key}"`);
  }
  if (value.version !== 1)
    throw new IdentityError(`the agent identity at ${path} has unknown version ${value.version}`);
  if (!/^https?:\/\//.test(value.url as string) || !URL.canParse(value.url as string))
    throw damaged('has a "url" that is not an http(s) URL');
  try {
    if (createPrivateKey(value.privateKey as string).asymmetricKeyType !== 'ed25519') throw new Error();
  } catch {
    throw damaged('has a "privateKey" that is not an Ed25519 private key (PKCS#8 PEM)');
  }
  value.tls ??= null; // not written by an agent that never pinned
  const tls = value.tls;
  if (
    tls !== null &&
    (typeof tls !== 'object' || typeof tls.fingerprint256 !== 'string' || typeof tls.caPem !== 'string')
  )
    throw damaged('has a "tls" that is neither null nor a pinned certificate (fingerprint256, caPem)');
  return value as AgentIdentity;
}
