import { randomBytes } from 'node:crypto';
import { open, readFile, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { privateDirectory, writePrivateFile } from '@sesame/agent/private-file';
import type { TlsPin } from '@sesame/agent/tls';
import { CliError, ExitCodes } from './errors.ts';

/** What `sesame login` keeps in SESAME_HOME/credentials.json (0600). */
export type Credentials = {
  url: string;
  username: string;
  /** The access token (`ses_…`), short-lived; refreshed with `refreshToken`. */
  token: string;
  expiresAt: number;
  /** Rotates on every refresh; absent in files written before refresh tokens existed. */
  refreshToken?: string | undefined;
  /** When the whole sign-in ends; no refresh outlives it. */
  sessionExpiresAt?: number | undefined;
  tls: TlsPin | null;
};

export const NOT_SIGNED_IN =
  'not signed in: run `sesame login --url <server>` (add `--user <name>` for a local account)';
export const SIGN_IN_ENDED = 'your sign-in has ended: run `sesame login` again';

export function configDir(): string {
  return process.env.SESAME_HOME ?? join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'sesame');
}

const file = () => join(configDir(), 'credentials.json');

export async function saveCredentials(credentials: Credentials): Promise<void> {
  await writePrivateFile(file(), `${JSON.stringify(credentials, null, 2)}\n`);
}

/** The stored credentials, or undefined when there are none (a damaged file is an error). */
export async function readCredentials(): Promise<Credentials | undefined> {
  let text: string;
  try {
    text = await readFile(file(), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as Credentials;
    if (
      typeof value.url !== 'string' ||
      typeof value.token !== 'string' ||
      typeof value.expiresAt !== 'number'
    )
      throw new Error('fields missing');
    return value;
  } catch {
    throw new CliError(`${file()} is damaged: run \`sesame login\` again`, ExitCodes.UNAUTHENTICATED);
  }
}

export async function loadCredentials(): Promise<Credentials> {
  const value = await readCredentials();
  if (!value) throw new CliError(NOT_SIGNED_IN, ExitCodes.UNAUTHENTICATED);
  return value;
}

export async function clearCredentials(): Promise<void> {
  await rm(file(), { force: true });
}

const DEVICE_ID = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * This home's device id (SESAME_HOME/device-id, 0600): random, made on first use, sent as `device` when signing
 * in so that "ask for MFA only on a context change" can recognise this machine. It is not a secret the server
 * trusts alone; the source address counts too.
 */
export async function deviceId(): Promise<string> {
  const path = join(configDir(), 'device-id');
  try {
    const existing = (await readFile(path, 'utf8')).trim();
    if (DEVICE_ID.test(existing)) return existing;
  } catch {
    // none yet
  }
  const id = randomBytes(24).toString('base64url');
  await writePrivateFile(path, `${id}\n`);
  return id;
}

const LOCK_STALE_MS = 30_000;

/**
 * Runs `fn` holding SESAME_HOME/credentials.lock, so that two `sesame` processes sharing a home do not both
 * spend the same refresh token (the server treats a second use as theft and ends the sign-in). A lock older
 * than 30 s is left over from a killed process and is taken over.
 */
export async function withCredentialsLock<T>(fn: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  await privateDirectory(configDir());
  const lock = join(configDir(), 'credentials.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(lock, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > LOCK_STALE_MS) await rm(lock, { force: true });
      else if (Date.now() > deadline)
        throw new CliError(
          `another sesame process holds ${lock}; if none is running, delete the file`,
          ExitCodes.FAILURE,
        );
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}
