import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CliError, ExitCodes } from '../errors.ts';
import { statesMatch } from './pkce.ts';

export type LoopbackRedirect = {
  port: number;
  /** The authorization code the browser brought back (rejects on timeout, a sign-in error, or close()). */
  code: Promise<string>;
  close(): void;
};

const page = (title: string, text: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>` +
  `<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto"><h1>${title}</h1><p>${text}</p></body></html>`;

function answer(res: ServerResponse, status: number, title: string, text: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    'referrer-policy': 'no-referrer',
    connection: 'close',
  });
  res.end(page(title, text));
}

/**
 * The loopback end of the browser sign-in (RFC 8252): listens on 127.0.0.1 only, on a port the system picks,
 * for one `GET /callback?code&state` whose state matches ours. A request with another state is refused and
 * the wait goes on (it is not ours to act on); an `error` with our state ends the wait.
 */
export async function startLoopback({
  state,
  timeoutMs = 5 * 60_000,
}: {
  state: string;
  timeoutMs?: number;
}): Promise<LoopbackRedirect> {
  let settle: { resolve: (code: string) => void; reject: (error: Error) => void } | undefined;
  const code = new Promise<string>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== '/callback')
      return answer(res, 404, 'Not found', 'This address only receives the Sesame sign-in.');
    if (!statesMatch(state, url.searchParams.get('state')))
      return answer(
        res,
        400,
        'Not this sign-in',
        'This link does not belong to the waiting <code>sesame login</code>. Run <code>sesame login</code> again.',
      );
    const error = url.searchParams.get('error');
    const received = url.searchParams.get('code');
    if (error || !received) {
      answer(res, 400, 'Sign-in failed', 'Sesame did not sign you in. Go back to the terminal.');
      const why = url.searchParams.get('error_description') ?? error ?? 'no code in the callback';
      settle?.reject(
        new CliError(
          `the browser sign-in failed (${why}): run \`sesame login\` again`,
          ExitCodes.UNAUTHENTICATED,
        ),
      );
      return;
    }
    answer(res, 200, 'Signed in to Sesame', 'You can close this tab and go back to the terminal.');
    settle?.resolve(received);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const timer = setTimeout(
    () =>
      settle?.reject(
        new CliError(
          `the browser sign-in did not finish within ${Math.round(timeoutMs / 60_000)} minutes: run \`sesame login\` again (with --no-browser to sign in with a code instead)`,
          ExitCodes.UNAUTHENTICATED,
        ),
      ),
    timeoutMs,
  );
  const close = () => {
    clearTimeout(timer);
    server.close();
    server.closeAllConnections();
    settle?.reject(new CliError('the browser sign-in was stopped', ExitCodes.FAILURE));
  };
  code.then(close, close);
  return { port: (server.address() as AddressInfo).port, code, close };
}
