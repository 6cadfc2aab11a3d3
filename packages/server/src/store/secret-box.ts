// Secrets the server must read back in the clear (TOTP secrets, OIDC client secrets) are stored sealed:
// AES-256-GCM under the server's secrets key, bound to where they are stored, so a copy of the database (a
// dump, a backup, a replica) does not hand out anyone's second factor.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

const PREFIX = 'sealed:v1:';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SEALED = /^sealed:v1:([0-9a-f]{16}):([A-Za-z0-9_-]+)$/;

export class SecretBoxError extends Error {
  override name = 'SecretBoxError';
}

export type SecretBox = {
  /** Names the key without giving it away (an HMAC of a fixed text under it): errors and logs show it. */
  readonly keyId: string;
  /** `plain` sealed for `context` (where it is stored: table, column and row): it opens only for that context. */
  seal(plain: string, context: string): string;
  /** The text sealed for `context`; a SecretBoxError says why not (not sealed, another key, changed). */
  open(sealed: string, context: string): string;
};

export function isSealed(value: string): boolean {
  return value.startsWith(PREFIX);
}

/** The id of the key `sealed` says it was sealed with, if it has the shape of a sealed value. */
export function sealedKeyId(sealed: string): string | undefined {
  return SEALED.exec(sealed)?.[1];
}

/** The id of `key`, as `SecretBox.keyId`. */
export function secretsKeyId(key: Buffer): string {
  return createHmac('sha256', key).update('sesame secrets key id').digest('hex').slice(0, 16);
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== KEY_BYTES)
    throw new SecretBoxError(`a secrets key must be ${KEY_BYTES} bytes (got ${key.length})`);
  const own = Buffer.from(key); // a copy: the caller's buffer may be reused
  const keyId = secretsKeyId(own);
  return {
    keyId,
    seal(plain, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', own, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${PREFIX}${keyId}:${body.toString('base64url')}`;
    },
    open(sealed, context) {
      const match = SEALED.exec(sealed);
      if (!match) throw new SecretBoxError(`${context} is not a sealed value (sealed:v1:<key id>:<data>)`);
      const [, id, data] = match as unknown as [string, string, string];
      if (id !== keyId)
        throw new SecretBoxError(
          `${context} was sealed with another secrets key (key id ${id}; this server's key is ${keyId})`,
        );
      const body = Buffer.from(data, 'base64url');
      if (body.length < IV_BYTES + TAG_BYTES)
        throw new SecretBoxError(`${context} is too short to be sealed (${body.length} bytes)`);
      const decipher = createDecipheriv('aes-256-gcm', own, body.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      try {
        const plain = Buffer.concat([
          decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)),
          decipher.final(),
        ]);
        return plain.toString('utf8');
      } catch {
        throw new SecretBoxError(
          `${context} does not open with this server's secrets key: it was changed or damaged where it is stored, or moved from another row`,
        );
      }
    },
  };
}
