import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pinnedTlsOptions, type TlsPin } from '@sesame/agent/tls';
import { CliError, ExitCodes, exitCodeFor } from './errors.ts';

const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** A small JSON client for the Sesame API; errors become CliErrors with the server's message and exit code. */
export class ApiClient {
  readonly url: string;
  readonly token: string | undefined;
  readonly tls: TlsPin | null;

  constructor(url: string, token?: string, tls: TlsPin | null = null) {
    this.url = url.replace(/\/+$/, '');
    this.token = token;
    this.tls = tls;
  }

  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    raw = false,
  ): Promise<T> {
    const url = new URL(`${this.url}${path}`);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = {};
    if (payload)
      Object.assign(headers, { 'content-type': 'application/json', 'content-length': payload.length });
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = send(url, { method, headers, timeout: 30_000, ...pinnedTlsOptions(this.tls) }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(new Error('the response is too large'));
          else chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
      });
      req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
      req.on('error', reject);
      req.end(payload);
    }).catch((error: Error) => {
      throw new CliError(
        `cannot reach the Sesame server at ${this.url}: ${error.message}`,
        ExitCodes.UNAVAILABLE,
      );
    });
    if (status === 204) return {} as T;
    if (raw && status < 300) return { text } as T;
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      if (status < 300) return { text } as T;
    }
    if (status >= 300) {
      const error = parsed.error as { code?: string; message?: string } | undefined;
      throw new CliError(error?.message ?? `the server answered HTTP ${status}`, exitCodeFor(error?.code));
    }
    return parsed as T;
  }

  /** Raw text (e.g. a recording). */
  async text(path: string): Promise<string> {
    return (await this.call<{ text: string }>('GET', path, undefined, true)).text;
  }
}
