import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pinMismatch, pinnedTlsOptions, plainHttpHint, type TlsPin } from '@sesame/agent/tls';
import {
  type Credentials,
  forgetProposal,
  proposedSuccessor,
  readCredentials,
  SIGN_IN_ENDED,
  saveCredentials,
  withCredentialsLock,
} from './credentials.ts';
import { CliError, ExitCodes, exitCodeFor } from './errors.ts';
import { refreshDecision } from './token-refresh.ts';

const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** `tokenRefused`: the server named the access token itself as the problem (RFC 6750 invalid_token). */
type Answer = { status: number; text: string; tokenRefused: boolean };
export type Refreshed = { token: string; expiresAt: number; refreshToken: string; sessionExpiresAt: number };

/**
 * A small JSON client for the Sesame API; errors become CliErrors with the server's message and exit code.
 * Built from stored credentials (`ApiClient.signedIn`), it renews the access token with the refresh token when
 * the token is expired or about to be, and once after a 401 that refused the token itself (RFC 6750
 * `invalid_token`), and saves the rotated refresh token.
 */
export class ApiClient {
  readonly url: string;
  readonly tls: TlsPin | null;
  #token: string | undefined;
  #credentials: Credentials | undefined;
  #now: () => number;
  /** Set when the caller already holds the credentials lock (which is not reentrant). */
  #lockHeld = false;

  constructor(url: string, token?: string, tls: TlsPin | null = null, now: () => number = Date.now) {
    this.url = url.replace(/\/+$/, '');
    this.#token = token;
    this.tls = tls;
    this.#now = now;
  }

  /**
   * A client that signs requests with the stored credentials and keeps them fresh. `lockHeld`: the caller holds
   * the credentials lock already (logout), so a refresh must not wait for it.
   */
  static signedIn(credentials: Credentials, now: () => number = Date.now, lockHeld = false): ApiClient {
    const api = new ApiClient(credentials.url, credentials.token, credentials.tls, now);
    api.#credentials = credentials;
    api.#lockHeld = lockHeld;
    return api;
  }

  get token(): string | undefined {
    return this.#token;
  }

  /** Refreshes the access token now if it is expired or within a minute of expiry (before a WebSocket upgrade). */
  async ensureFresh(): Promise<void> {
    const c = this.#credentials;
    if (!c) return;
    const decision = refreshDecision(c, this.#now());
    if (decision === 'ended') throw new CliError(SIGN_IN_ENDED, ExitCodes.UNAUTHENTICATED);
    if (decision === 'refresh') await this.#refresh(false);
  }

  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    return parseAnswer<T>(await this.#signed((token) => this.#send(method, path, body, token)));
  }

  /**
   * Sends with a fresh access token. Only a refused token is worth a refresh and a second try: any other 401 (a
   * wrong code, say) is the answer, and sending it again would spend another of the attempts the server allows.
   */
  async #signed(send: (token: string | undefined) => Promise<Answer>): Promise<Answer> {
    await this.ensureFresh();
    const answer = await send(this.#token);
    if (answer.status !== 401 || !answer.tokenRefused || !this.#credentials?.refreshToken) return answer;
    await this.#refresh(true);
    return send(this.#token);
  }

  /**
   * Every item of a listing (`{ <name>: [...], nextToken? }`), following nextToken page by page as the AWS CLI
   * does, up to `max` items. A server that hands back a token it already gave would loop forever: that is an error.
   */
  async list(path: string, name: string, max = Number.POSITIVE_INFINITY): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    const seen = new Set<string>();
    let token: string | undefined;
    do {
      const query = token ? `${path.includes('?') ? '&' : '?'}nextToken=${encodeURIComponent(token)}` : '';
      const answer = await this.call<Record<string, unknown>>('GET', `${path}${query}`);
      const page = answer[name];
      if (!Array.isArray(page)) throw new CliError(`the server's answer to ${path} has no "${name}" list`);
      items.push(...(page as Record<string, unknown>[]));
      token = typeof answer.nextToken === 'string' ? answer.nextToken : undefined;
      if (token !== undefined && seen.has(token))
        throw new CliError(`the server's listing of ${path} repeats a page; try again`);
      if (token !== undefined) seen.add(token);
    } while (token !== undefined && items.length < max);
    return items.slice(0, max);
  }

  /**
   * Streams a successful answer's body (e.g. a recording, however large) through `into` (which ends with it) and
   * on to `out`, which is not ended (stdout). Error answers are read and thrown as for `call`. A server that sends
   * nothing for `idleMs` while `out` is ready for more is given up on (a pager may hold the body back for ever).
   */
  async download(
    path: string,
    into: Writable & NodeJS.ReadableStream,
    out: Writable,
    idleMs = 30_000,
  ): Promise<void> {
    const sink = { into, out, idleMs };
    parseAnswer(await this.#signed((token) => this.#send('GET', path, undefined, token, sink)));
  }

  /**
   * Spends the refresh token, holding the credentials lock; if another process sharing this home refreshed
   * meanwhile, its token is used instead. `force` (after a 401) refreshes even a token that looks fresh.
   */
  async #refresh(force: boolean): Promise<void> {
    const locked = this.#lockHeld ? <T>(fn: () => Promise<T>) => fn() : withCredentialsLock;
    await locked(async () => {
      const mine = this.#credentials as Credentials;
      const current = await readCredentials(); // a damaged file says so
      // Signed out, or signed in elsewhere or as someone else, by another sesame since this one read the file:
      // refreshing would write the old sign-in back over that.
      if (!current || current.url !== mine.url || current.username !== mine.username)
        throw new CliError(
          current
            ? `another sesame signed in as ${current.username} at ${current.url} meanwhile: run the command again`
            : 'another sesame signed out meanwhile: run `sesame login` to sign in again',
          ExitCodes.UNAUTHENTICATED,
        );
      // Another sesame refreshed meanwhile: its token is used.
      if (current.token !== mine.token && refreshDecision(current, this.#now()) === 'use') {
        this.#adopt(current);
        return;
      }
      if (!force && refreshDecision(current, this.#now()) === 'use') return this.#adopt(current);
      if (!current.refreshToken) throw new CliError(SIGN_IN_ENDED, ExitCodes.UNAUTHENTICATED);
      // A damaged credentials file never refreshes: that is a sign-in to make again (exit 3), not a retry.
      if (
        typeof current.refreshToken !== 'string' ||
        !/^rft_[A-Za-z0-9_-]{20,100}$/.test(current.refreshToken)
      )
        throw new CliError(
          `the stored sign-in is damaged (its refresh token is not one the server issued): run \`sesame login --url ${current.url}\``,
          ExitCodes.UNAUTHENTICATED,
        );
      // The successor is chosen and written down before asking (see proposedSuccessor).
      const next = await proposedSuccessor(current.refreshToken);
      const answer = await this.#send(
        'POST',
        '/api/v1/auth/refresh',
        { refreshToken: current.refreshToken, nextRefreshToken: next },
        undefined,
      );
      if (answer.status === 400) {
        // A refused request spent nothing: the next refresh proposes afresh instead of repeating it.
        await forgetProposal(current.refreshToken);
        throw new CliError(
          `the server refused the refresh (${errorOf(answer)?.message ?? 'HTTP 400'}); try the command again, and if it is refused again, run \`sesame login\``,
          ExitCodes.FAILURE,
        );
      }
      if (answer.status === 401) {
        const message = errorOf(answer)?.message;
        throw new CliError(
          message?.includes('sesame login') ? message : SIGN_IN_ENDED,
          ExitCodes.UNAUTHENTICATED,
          'UNAUTHENTICATED',
        );
      }
      const refreshed = parseAnswer<Refreshed>(answer);
      const updated: Credentials = {
        ...current,
        token: refreshed.token,
        expiresAt: refreshed.expiresAt,
        refreshToken: refreshed.refreshToken,
        sessionExpiresAt: refreshed.sessionExpiresAt ?? current.sessionExpiresAt,
      };
      await saveCredentials(updated);
      this.#adopt(updated);
    });
  }

  #adopt(credentials: Credentials): void {
    this.#credentials = credentials;
    this.#token = credentials.token;
  }

  /** With `sink`, a 2xx body is streamed to it instead of read into the answer (whose text is then empty). */
  #send(
    method: string,
    path: string,
    body: unknown,
    token: string | undefined,
    sink?: { into: Writable & NodeJS.ReadableStream; out: Writable; idleMs: number },
  ): Promise<Answer> {
    const url = new URL(`${this.url}${path}`);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = {};
    if (payload)
      Object.assign(headers, { 'content-type': 'application/json', 'content-length': payload.length });
    if (token) headers.authorization = `Bearer ${token}`;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Answer>((resolve, reject) => {
      const req = send(url, { method, headers, timeout: 30_000, ...pinnedTlsOptions(this.tls) }, (res) => {
        const status = res.statusCode ?? 0;
        if (sink && status >= 200 && status < 300) {
          // A reader that pauses (a pager) holds the body back for as long as it likes, so the socket's idle limit
          // is off; a server that sends nothing for idleMs while the reader waits for more is given up on.
          req.setTimeout(0);
          const socket = res.socket;
          let received = socket.bytesRead;
          let quietSince = Date.now();
          const watchdog = setInterval(
            () => {
              const waiting = sink.out.writableNeedDrain || sink.into.writableNeedDrain;
              if (waiting || socket.bytesRead !== received) {
                received = socket.bytesRead;
                quietSince = Date.now();
              } else if (Date.now() - quietSince > sink.idleMs)
                res.destroy(new Error(`nothing came for ${sink.idleMs / 1000} s`));
            },
            Math.min(1000, sink.idleMs),
          );
          let localError: Error | undefined;
          const onLocalError = (error: Error) => {
            localError = error;
          };
          sink.out.once('error', onLocalError);
          const done = () => resolve({ status, text: '', tokenRefused: false });
          // A connection cut mid-body rejects (premature close): a partial download is not a download. A reader
          // that went away (`| head`) ends it as `cat` would; any other failure to write is ours, not the server's.
          pipeline(res, sink.into, sink.out, { end: false })
            .then(done, (error: NodeJS.ErrnoException) => {
              if (error.code === 'EPIPE') return done();
              if (localError) return reject(new CliError(`cannot write the output: ${localError.message}`));
              reject(new Error(`the answer broke off: ${error.message}`));
            })
            .finally(() => {
              clearInterval(watchdog);
              sink.out.off('error', onLocalError);
            });
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(new Error('the response is too large'));
          else chunks.push(chunk);
        });
        // A connection cut after the headers ends the response without 'end' and the request without 'error'.
        res.on('close', () => {
          if (!res.complete) reject(new Error('the connection broke during the answer'));
        });
        res.on('end', () =>
          resolve({
            status,
            text: Buffer.concat(chunks).toString('utf8'),
            tokenRefused: /\binvalid_token\b/.test(res.headers['www-authenticate'] ?? ''),
          }),
        );
      });
      req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
      req.on('error', reject);
      req.end(payload);
    }).catch((error: Error) => {
      throw error instanceof CliError ? error : unreachable(this.url, this.tls, error);
    });
  }
}

/** The server could not be reached; said plainly when it is because its certificate is not the pinned one. */
export function unreachable(url: string, tls: TlsPin | null, error: Error): CliError {
  const pinned = pinMismatch(
    error,
    tls,
    `sign in again with \`sesame login --url ${url} --fingerprint <new>\``,
  );
  return new CliError(
    pinned ?? `cannot reach the Sesame server at ${url}: ${error.message}${plainHttpHint(url, error)}`,
    ExitCodes.UNAVAILABLE,
  );
}

function errorOf({ text }: Answer): { code?: string; message?: string } | undefined {
  try {
    return (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
  } catch {
    return undefined;
  }
}

function parseAnswer<T>({ status, text }: Answer): T {
  if (status === 204) return {} as T;
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    if (status < 300) return { text } as T;
  }
  if (status >= 300) {
    const error = parsed.error as { code?: string; message?: string; details?: unknown } | undefined;
    throw new CliError(
      error?.message ?? `the server answered HTTP ${status}`,
      exitCodeFor(error?.code),
      error?.code,
      error?.details,
    );
  }
  return parsed as T;
}
