import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext as tlsContext } from 'node:tls';
import { SesameError } from './errors.ts';

export type TlsFiles = { cert: Buffer; key: Buffer; fingerprint256: string };

/**
 * The server's certificate and key, read and checked before anything else starts: a wrong path, or a key that
 * does not go with the certificate, must stop a start before the store is opened (a restart ends the sessions the
 * last run left open). Messages name the setting and the file, never the key's contents.
 */
export async function readTlsFiles(tls: { certFile: string; keyFile: string }): Promise<TlsFiles> {
  const read = (setting: string, path: string) =>
    readFile(path).catch((error: NodeJS.ErrnoException) => {
      throw new SesameError(
        'INVALID',
        `cannot read ${setting} ${path} (${error.code ?? error.message}): check the path in the config`,
      );
    });
  const cert = await read('tls.certFile', tls.certFile);
  const key = await read('tls.keyFile', tls.keyFile);
  let fingerprint256: string;
  try {
    fingerprint256 = new X509Certificate(cert).fingerprint256;
  } catch (error) {
    throw new SesameError(
      'INVALID',
      `tls.certFile ${tls.certFile} is not a certificate in PEM or DER form (${(error as Error).message})`,
    );
  }
  try {
    tlsContext({ cert, key });
  } catch (error) {
    throw new SesameError(
      'INVALID',
      `tls.keyFile ${tls.keyFile} cannot be used with the certificate in tls.certFile: it must be that certificate's private key, in PEM form, unencrypted (${(error as Error).message})`,
    );
  }
  return { cert, key, fingerprint256 };
}
