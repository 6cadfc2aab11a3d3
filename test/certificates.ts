/** Test support: a self-signed certificate made with openssl, as an operator would for a private server. */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A new P-256 key, unencrypted: the key arguments of `openssl req`. */
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
const fingerprintOf = (certFile: string) => new X509Certificate(readFileSync(certFile)).fingerprint256;
/** A self-signed certificate for one day with `extensions`, and its key. */
const selfSigned = (subject: string, extensions: string[], keyFile: string, certFile: string) =>
  openssl([
    'req',
    '-x509',
    ...EC_KEY,
    '-days',
    '1',
    '-subj',
    subject,
    ...extensions.flatMap((extension) => ['-addext', extension]),
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);

/** Writes cert.pem and key.pem (P-256, one day, CN and DNS name sesame.test) into `dir`. */
export function selfSignedCertificate(dir: string) {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  selfSigned('/CN=sesame.test', ['subjectAltName=DNS:sesame.test'], keyFile, certFile);
  return { certFile, keyFile, fingerprint: fingerprintOf(certFile) };
}

/**
 * Writes ca.pem (a private CA) and leaf-cert.pem / leaf-key.pem (sesame.test, signed by that CA) into `dir`: a
 * server certificate from a company's internal CA, which this machine does not trust either.
 */
export function caSignedCertificate(dir: string) {
  const file = (name: string) => join(dir, name);
  selfSigned(
    '/CN=Test internal CA',
    ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign'],
    file('ca-key.pem'),
    file('ca.pem'),
  );
  openssl([
    'req',
    ...EC_KEY,
    '-subj',
    '/CN=sesame.test',
    '-keyout',
    file('leaf-key.pem'),
    '-out',
    file('leaf.csr'),
  ]);
  writeFileSync(file('leaf.ext'), 'subjectAltName=DNS:sesame.test\n');
  openssl([
    'x509',
    '-req',
    '-in',
    file('leaf.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca-key.pem'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    file('leaf.ext'),
    '-out',
    file('leaf-cert.pem'),
  ]);
  const certFile = file('leaf-cert.pem');
  return {
    certFile,
    keyFile: file('leaf-key.pem'),
    fingerprint: fingerprintOf(certFile),
  };
}
