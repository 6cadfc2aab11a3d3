import { isIP } from 'node:net';
import { connect, type PeerCertificate } from 'node:tls';
import type { DirectFrames } from '@sesame/protocol';

export type TlsPin = { fingerprint256: string; caPem: string };

/** Normalises "aa:bb…", "AABB…" or "sha256:…" to the "AA:BB:…" form Node reports. */
export function normalizeFingerprint(text: string): string {
  const hex = text
    .replace(/^sha256:/i, '')
    .replace(/[^0-9a-f]/gi, '')
    .toUpperCase();
  if (hex.length !== 64) throw new Error(`"${text}" is not a SHA-256 fingerprint (64 hex digits)`);
  return hex.match(/../g)?.join(':') ?? hex;
}

function toPem(raw: Buffer): string {
  const lines = raw.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/**
 * Looks at an https server's certificate. A certificate the system trusts needs no pin. An untrusted
 * (self-signed) one is accepted only if its fingerprint equals the one the administrator gave.
 */
export async function pinServerCertificate(url: URL, expected: string | undefined): Promise<TlsPin | null> {
  const { cert, authorized } = await new Promise<{ cert: PeerCertificate; authorized: boolean }>(
    (resolve, reject) => {
      // `new URL` keeps an IPv6 address in brackets; a name (not an address) goes in SNI.
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      const socket = connect(
        {
          host,
          port: Number(url.port || 443),
          ...(isIP(host) === 0 ? { servername: host } : {}),
          rejectUnauthorized: false,
        },
        () => {
          resolve({ cert: socket.getPeerCertificate(true), authorized: socket.authorized });
          socket.end();
        },
      );
      socket.setTimeout(10_000, () => socket.destroy(new Error('TLS handshake timed out')));
      socket.on('error', reject);
    },
  );
  const actual = cert.fingerprint256;
  if (expected !== undefined) {
    if (normalizeFingerprint(expected) !== actual) {
      throw new Error(
        `the server's certificate fingerprint is ${actual}, not the expected ${normalizeFingerprint(expected)}: this may not be your Sesame server, so nothing was sent to it`,
      );
    }
    return { fingerprint256: actual, caPem: toPem(cert.raw) };
  }
  if (authorized) return null;
  throw new Error(
    `the server's TLS certificate is not trusted by this machine (self-signed?). Its SHA-256 fingerprint is ${actual}. If that matches the fingerprint the Sesame server printed, run again with --fingerprint ${actual}`,
  );
}

/**
 * TLS options that trust exactly the pinned certificate. It is the trust anchor itself, whether self-signed or
 * issued by a private CA this machine does not know (allowPartialTrustChain: OpenSSL otherwise takes only a
 * self-signed certificate as an anchor), and its fingerprint must match.
 */
export function pinnedTlsOptions(pin: TlsPin | null) {
  if (!pin) return {};
  return {
    ca: pin.caPem,
    allowPartialTrustChain: true,
    checkServerIdentity: (_host: string, cert: PeerCertificate) =>
      cert.fingerprint256 === pin.fingerprint256
        ? undefined
        : Object.assign(
            new Error(`server certificate ${cert.fingerprint256} is not the pinned ${pin.fingerprint256}`),
            {
              code: PIN_MISMATCH,
            },
          ),
  };
}

const PIN_MISMATCH = 'ERR_SESAME_PIN_MISMATCH';

/** OpenSSL's verdicts on a certificate that does not chain to the trust anchor (here, the pinned certificate). */
const NOT_THE_PINNED = new Set([
  PIN_MISMATCH,
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
]);

/**
 * Why a connection failed, when it is because the server no longer shows the certificate pinned at registration
 * or sign-in (renewed, replaced, or someone posing as the server); undefined for any other failure. `redo` says
 * how to pin a new certificate. Without it people saw only OpenSSL's "self-signed certificate".
 */
export function pinMismatch(error: Error, pin: TlsPin | null, redo: string): string | undefined {
  if (!pin || !NOT_THE_PINNED.has((error as NodeJS.ErrnoException).code ?? '')) return undefined;
  return (
    `the server's TLS certificate is not the one pinned (SHA-256 ${pin.fingerprint256}; ${error.message}). ` +
    `If the server's certificate was replaced on purpose, get its new fingerprint from the server's administrator and ${redo}; ` +
    'if not, someone may be posing as the server'
  );
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** Whether a host is this machine: a URL's hostname (IPv6 in brackets, as `new URL` spells it) or a bare one. */
export function isLoopback(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/**
 * WebSocket options for a client that is not a browser. RFC 6455 masks what clients send so that a script in a
 * browser cannot put bytes of its choosing on the wire for a confused proxy in between to misread; masking
 * costs a copy and an XOR of every byte on both ends. Over TLS no one in between can read the bytes, and on
 * loopback no one is in between, so there the mask is all zeros (a valid mask, which `ws` skips on both ends).
 * Over plain http to another host the mask stays random.
 */
export function maskingOptions(url: string | URL): { generateMask?: (mask: Uint8Array) => void } {
  const { protocol, hostname } = new URL(url);
  const unreadable = protocol === 'wss:' || protocol === 'https:' || isLoopback(hostname);
  return unreadable ? { generateMask: (mask) => mask.fill(0) } : {};
}

/**
 * How a client at `url` sends small frames (muxOverWebSocket): written whole with the all-zero mask where
 * maskingOptions gives that mask, otherwise through `ws`, which masks them.
 */
export function clientDirectFrames(url: string | URL): DirectFrames {
  return maskingOptions(url).generateMask ? 'zero-mask-client' : 'off';
}

/**
 * A hint for an http:// URL whose server hung up without answering: what an https server does with a plain
 * request (the person wrote http:// for a server that speaks TLS). Empty otherwise.
 */
export function plainHttpHint(url: string, error: Error): string {
  const hungUp = error.message === 'socket hang up' || (error as NodeJS.ErrnoException).code === 'ECONNRESET';
  return hungUp && url.startsWith('http://')
    ? `; if the server speaks TLS, its URL starts with https:// (${url.replace(/^http:/, 'https:')})`
    : '';
}

/**
 * Whether something at an http:// URL's host and port speaks TLS (a TLS handshake completes within 3 s; the
 * certificate is not looked at). Asked when such a URL's server hung up, to tell a wrong scheme from a lost answer.
 */
export function speaksTls(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  const host = hostname.replace(/^\[|\]$/g, ''); // an IPv6 address comes in brackets
  return new Promise((resolve) => {
    const socket = connect({
      host,
      port: Number(port || 80),
      rejectUnauthorized: false,
      ...(isIP(host) ? {} : { servername: host }),
    });
    const done = (answer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(false), 3_000);
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
  });
}
