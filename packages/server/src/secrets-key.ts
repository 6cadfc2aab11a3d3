// The server's secrets key, which seals the secrets the store keeps (store/secret-box.ts): SESAME_SECRETS_KEY
// when set (every server on one PostgreSQL database needs the same), else the file secrets.key in the data
// directory, made on the first start. It is never logged; only its id (an HMAC of a fixed text under it) is.
import { randomBytes } from 'node:crypto';
import { open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SesameError } from './errors.ts';
import { createSecretBox, type SecretBox, secretsKeyId } from './store/secret-box.ts';

export const SECRETS_KEY_FILE = 'secrets.key';
/** A new key while `rotate-secrets-key` runs: written before the database takes it, renamed over secrets.key after. */
export const NEXT_SECRETS_KEY_FILE = 'secrets.key.next';
const KEY_BYTES = 32;

/**
 * The key in `text`: 64 hex digits, or 32 bytes in base64 or base64url (padding optional; surrounding white
 * space ignored); else a problem that says what a key looks like, without the text.
 */
export function parseSecretsKey(text: string): Buffer | { problem: string } {
  const value = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  const unpadded = value.replace(/=+$/, '');
  if (/^[A-Za-z0-9+/_-]{43}$/.test(unpadded) && value.length - unpadded.length <= 1) {
    const key = Buffer.from(unpadded.replace(/\+/g, '-').replace(/\//g, '_'), 'base64url');
    if (key.length === KEY_BYTES) return key;
  }
  return {
    problem: `must be ${KEY_BYTES} random bytes as 64 hex digits or base64 (e.g. the output of \`openssl rand -base64 32\`); got ${value.length} characters, not shown`,
  };
}

/** `made`: the key file was made by this call (a start the database then refuses removes it: open-server-store.ts). */
export type SecretsKey = { box: SecretBox; source: string; made: boolean };

/**
 * The key from `configured` (SESAME_SECRETS_KEY, already checked by loadConfig), else from the data directory's
 * secrets.key, made there (0600, 32 random bytes in base64) when missing and `create` is set.
 */
export async function loadSecretsKey({
  configured,
  dataDir,
  create,
}: {
  configured: string | undefined;
  dataDir: string;
  create: boolean;
}): Promise<SecretsKey> {
  if (configured !== undefined) {
    const key = parseSecretsKey(configured);
    if (!Buffer.isBuffer(key)) throw new SesameError('INVALID', `SESAME_SECRETS_KEY ${key.problem}`);
    return { box: createSecretBox(key), source: 'SESAME_SECRETS_KEY', made: false };
  }
  const path = join(dataDir, SECRETS_KEY_FILE);
  let text: string;
  let made = false;
  try {
    const info = await stat(path);
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0)
      throw new SesameError(
        'INVALID',
        `the secrets key ${path} is open to other users (mode ${(info.mode & 0o777).toString(8)}): run \`chmod 600 ${path}\``,
      );
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw keyFileError(path, error);
    if (!create)
      throw new SesameError(
        'INVALID',
        `there is no secrets key: ${path} is missing and SESAME_SECRETS_KEY is not set; give the key the server runs with`,
      );
    text = await makeKeyFile(path);
    made = true;
  }
  const key = parseSecretsKey(text);
  if (!Buffer.isBuffer(key)) throw new SesameError('INVALID', `the secrets key ${path} ${key.problem}`);
  return { box: createSecretBox(key), source: path, made };
}

/**
 * A new key written to `path` (random, or `key`), which must not exist (never replaced, never written through a
 * link); its text.
 */
export async function makeKeyFile(path: string, key: Buffer = randomBytes(KEY_BYTES)): Promise<string> {
  const text = `${key.toString('base64')}\n`;
  let file: Awaited<ReturnType<typeof open>> | undefined;
  try {
    file = await open(path, 'wx', 0o600);
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST')
      throw new SesameError(
        'INVALID',
        `cannot make the secrets key ${path}: something is in its way (a link to a file that does not exist?); remove it, or give the key with SESAME_SECRETS_KEY`,
      );
    throw keyFileError(path, error);
  }
  try {
    await file.writeFile(text);
    await file.sync();
    return text;
  } catch (error) {
    await rm(path, { force: true }); // half a key would be refused at every start
    throw keyFileError(path, error);
  } finally {
    await file.close();
  }
}

function keyFileError(path: string, error: unknown): Error {
  if (error instanceof SesameError) return error;
  return new SesameError(
    'UNAVAILABLE',
    `cannot read or make the secrets key ${path}: ${(error as Error).message}`,
    {
      cause: error,
    },
  );
}

/**
 * The id of the key in the data directory's secrets.key, read whatever its mode (undefined when there is no file, or
 * it holds no key); any other failure to read it is an error, not a guess.
 */
export async function keyIdOfFile(dataDir: string, name = SECRETS_KEY_FILE): Promise<string | undefined> {
  const path = join(dataDir, name);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined;
    throw keyFileError(path, error);
  }
  const key = parseSecretsKey(text);
  return Buffer.isBuffer(key) ? secretsKeyId(key) : undefined;
}
