import { createHash, randomBytes } from 'node:crypto';
import { link, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { privateDirectory, syncDirectory, writePrivateFile } from '@sesame/agent/private-file';
import type { TlsPin } from '@sesame/agent/tls';
import { lock } from 'proper-lockfile';
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
/** The server signed in to last, and its pin: kept after logout, so that `sesame login` knows where to go. */
const serverFile = () => join(configDir(), 'server.json');

export type LastServer = Pick<Credentials, 'url' | 'tls'>;

export async function saveCredentials(credentials: Credentials): Promise<void> {
  await writePrivateFile(file(), `${JSON.stringify(credentials, null, 2)}\n`);
  const server: LastServer = { url: credentials.url, tls: credentials.tls };
  await writePrivateFile(serverFile(), `${JSON.stringify(server, null, 2)}\n`);
}

/** The server of the stored credentials, else of the last sign-in (after a logout), else undefined. */
export async function lastServer(): Promise<LastServer | undefined> {
  const stored = await readCredentials().catch(() => undefined);
  if (stored) return stored;
  try {
    const value = JSON.parse(await readFile(serverFile(), 'utf8')) as LastServer;
    return typeof value.url === 'string' ? { url: value.url, tls: value.tls ?? null } : undefined;
  } catch {
    return undefined; // only a default: a missing or damaged file just means none
  }
}

/** The stored credentials, or undefined when there are none (a damaged or unreadable file is an error). */
export async function readCredentials(): Promise<Credentials | undefined> {
  let text: string;
  try {
    text = await readFile(file(), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(
      `cannot read ${file()}: ${(error as Error).message}; check its permissions (it must be yours, mode 600)`,
      ExitCodes.FAILURE,
    );
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
  if (!value) {
    // After a logout the server is remembered: `sesame login` alone goes back to it.
    const server = await lastServer().catch(() => undefined);
    throw new CliError(
      server
        ? `not signed in: run \`sesame login\` to sign in to ${server.url} again (add \`--user <name>\` for a local account)`
        : NOT_SIGNED_IN,
      ExitCodes.UNAUTHENTICATED,
    );
  }
  return value;
}

export async function clearCredentials(): Promise<void> {
  await rm(file(), { force: true });
}

/** A proposal's file, or a draft of one (left when a process was killed while writing it). */
const PROPOSAL = /^refresh-proposal-[0-9a-f]{16}\.json(\.[0-9a-f]{12}\.draft)?$/;
/** Proposals for tokens spent long ago are swept; one for the token in use is kept however old. */
const PROPOSAL_KEPT_MS = 3_600_000;

/** The proposal file for refresh token `from`: one per token, so that no token's proposal is ever replaced. */
const proposalFile = (from: string) =>
  join(configDir(), `refresh-proposal-${createHash('sha256').update(from).digest('hex').slice(0, 16)}.json`);

/**
 * The successor to propose when spending refresh token `from` (the server then issues exactly that one): the
 * one already written down for `from`, or a new random one, written down (synced) before it is sent. If the
 * answer is lost (no network, or this process killed meanwhile), the next refresh sends the same pair again,
 * which the server answers as a repeat instead of taking the spent token for stolen.
 *
 * Each token has its own file, made with link(2), which never replaces a file: when two sesame processes choose
 * at once (the credentials lock can be held twice right after a killed holder's lock is taken over), one choice
 * stands and both send it, which the server also answers as a repeat; two different proposals would end the
 * sign-in. A file stays after its answer is saved, for a process that read the old token before that; files
 * for other tokens go after an hour, and all of them at login and logout.
 */
export async function proposedSuccessor(from: string): Promise<string> {
  const path = proposalFile(from);
  const written = async (): Promise<string | undefined> => {
    try {
      const value = JSON.parse(await readFile(path, 'utf8')) as { from?: unknown; next?: unknown };
      return value.from === from && typeof value.next === 'string' ? value.next : undefined;
    } catch {
      return undefined;
    }
  };
  await forgetProposals(path, PROPOSAL_KEPT_MS);
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = await written();
    if (existing) return existing;
    const next = `rft_${randomBytes(32).toString('base64url')}`;
    const draft = `${path}.${randomBytes(6).toString('hex')}.draft`;
    try {
      const handle = await open(draft, 'wx', 0o600);
      try {
        await handle.writeFile(JSON.stringify({ from, next }));
        await handle.sync();
      } finally {
        await handle.close();
      }
      try {
        await link(draft, path);
      } catch (error) {
        // Another process's proposal is there (read it), or it went meanwhile (try again).
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
        // A file system without hard links: the file is made by renaming (two processes at once could differ).
        await rename(draft, path);
      }
      await syncDirectory(configDir()); // the file itself was synced; its name must survive a crash too
      return next;
    } finally {
      await rm(draft, { force: true });
    }
  }
  throw new CliError(`${path} cannot be read: delete it and try again`, ExitCodes.FAILURE);
}

/** Forgets the proposal for `from` (the server refused it: nothing was spent). */
export async function forgetProposal(from: string): Promise<void> {
  await rm(proposalFile(from), { force: true });
}

/** Deletes the refresh proposals (see proposedSuccessor): all of them, or those older than `olderThanMs` but `keep`. */
export async function forgetProposals(keep?: string, olderThanMs = 0): Promise<void> {
  const dir = configDir();
  const names = await readdir(dir).catch(() => [] as string[]);
  const cutoff = Date.now() - olderThanMs;
  for (const name of names) {
    const path = join(dir, name);
    if (!PROPOSAL.test(name) || path === keep) continue;
    const old =
      olderThanMs === 0 ||
      (await stat(path).then(
        (s) => s.mtimeMs < cutoff,
        () => false,
      ));
    if (old) await rm(path, { force: true });
  }
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

/** A lock untouched this long was left by a killed process; its holder touches it every LOCK_UPDATE_MS. */
const LOCK_STALE_MS = 20_000;
const LOCK_UPDATE_MS = 5_000;
const LOCK_POLL_MS = 50;
/** Longer than a holder may keep it: a refresh's request alone may take 30 s. */
const LOCK_WAIT_MS = 40_000;

/**
 * Runs `fn` holding SESAME_HOME/credentials.json.lock, so that two `sesame` processes sharing a home do not both
 * spend the same refresh token (the server treats a second use as theft and ends the sign-in), nor one write
 * over what the other just wrote. proper-lockfile keeps the lock fresh while `fn` runs, however long its request
 * takes, so only a lock left by a killed process is taken over (once untouched for 20 s). `staleMs` is for tests.
 */
export async function withCredentialsLock<T>(
  fn: () => Promise<T>,
  timeoutMs = LOCK_WAIT_MS,
  staleMs = LOCK_STALE_MS,
): Promise<T> {
  await privateDirectory(configDir());
  let release: () => Promise<void>;
  try {
    release = await lock(file(), {
      realpath: false,
      stale: staleMs,
      update: Math.min(LOCK_UPDATE_MS, staleMs / 2),
      retries: { retries: Math.ceil(timeoutMs / LOCK_POLL_MS), factor: 1, minTimeout: LOCK_POLL_MS },
      // Taken over while held (this process was stopped for longer than the stale time): nothing to undo.
      onCompromised: () => {},
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
    throw new CliError(
      `another sesame process has held ${file()}.lock for ${Math.round(timeoutMs / 1000)} s: try again; a lock nobody holds goes stale by itself after ${staleMs / 1000} s`,
      ExitCodes.FAILURE,
    );
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => {});
  }
}
