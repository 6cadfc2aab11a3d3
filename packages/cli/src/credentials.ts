import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError, ExitCodes } from './errors.ts';

export type Credentials = {
  url: string;
  username: string;
  token: string;
  expiresAt: number;
  tls: { fingerprint256: string; caPem: string } | null;
};

export function configDir(): string {
  return process.env.SESAME_HOME ?? join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'sesame');
}

const file = () => join(configDir(), 'credentials.json');

export async function saveCredentials(credentials: Credentials): Promise<void> {
  await mkdir(configDir(), { recursive: true, mode: 0o700 });
  await writeFile(file(), `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  await chmod(file(), 0o600);
}

export async function loadCredentials(): Promise<Credentials> {
  let text: string;
  try {
    text = await readFile(file(), 'utf8');
  } catch {
    throw new CliError(
      'not signed in: run `sesame login --url <server> --user <name>`',
      ExitCodes.UNAUTHENTICATED,
    );
  }
  try {
    const value = JSON.parse(text) as Credentials;
    if (typeof value.url !== 'string' || typeof value.token !== 'string') throw new Error('fields missing');
    if (value.expiresAt <= Date.now())
      throw new CliError('your sign-in has expired: run `sesame login` again', ExitCodes.UNAUTHENTICATED);
    return value;
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`${file()} is damaged: run \`sesame login\` again`, ExitCodes.UNAUTHENTICATED);
  }
}

export async function clearCredentials(): Promise<void> {
  await rm(file(), { force: true });
}
