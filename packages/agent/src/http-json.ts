import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { PeerCertificate } from 'node:tls';

export type TlsOptions = {
  ca?: string;
  checkServerIdentity?: (host: string, cert: PeerCertificate) => Error | undefined;
};

const MAX_RESPONSE_BYTES = 1024 * 1024;

/** A failed postJson: `requestSent` is false when the request never left this machine whole. */
export type PostJsonError = Error & { requestSent: boolean };

/** POSTs JSON and returns the status and parsed JSON body (bounded in size and time). */
export function postJson(
  url: URL,
  body: unknown,
  tls: TlsOptions = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const payload = Buffer.from(JSON.stringify(body));
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': payload.length },
        timeout: 30_000,
        ...tls,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(new Error('response too large'));
          else chunks.push(chunk);
        });
        // A connection cut after the headers ends the response without 'end' and the request without 'error'.
        res.on('close', () => {
          if (!res.complete)
            reject(
              Object.assign(new Error(`the connection to ${url.origin} broke during the answer`), {
                requestSent: true,
              }),
            );
        });
        res.on('end', () => {
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          } catch {
            parsed = {};
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.origin} within 30 s`)));
    let requestSent = false;
    req.on('finish', () => {
      requestSent = true;
    });
    req.on('error', (error) => reject(Object.assign(error, { requestSent })));
    req.end(payload);
  });
}
