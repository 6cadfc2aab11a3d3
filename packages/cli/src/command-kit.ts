import { readFile } from 'node:fs/promises';
import { Option } from 'commander';
import { ApiClient } from './api.ts';
import { loadCredentials } from './credentials.ts';
import { CliError, ExitCodes } from './errors.ts';

export type Out = { output: string };
export const outputOption = () =>
  new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table');

/** A client signed in with the stored credentials, its access token refreshed if it was about to expire. */
export async function client(): Promise<ApiClient> {
  const api = ApiClient.signedIn(await loadCredentials());
  await api.ensureFresh();
  return api;
}

export const enc = encodeURIComponent;

/** What a command did, on stderr (stdout stays for what a script reads). */
export const done = (text: string) => process.stderr.write(`${text}\n`);

export function parseTagArgs(pairs: string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at < 1) throw new CliError(`tag "${pair}" must look like key=value`, ExitCodes.INVALID);
    tags[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return tags;
}

/** Reads a file a command was given (a policy document); a missing file is a usage error. */
export async function readInput(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`, ExitCodes.INVALID);
  }
}
