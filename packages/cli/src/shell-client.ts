import { spawnSync } from 'node:child_process';
import { clientDirectFrames, maskingOptions, pinnedTlsOptions } from '@sesame/agent/tls';
import { type Channel, ChannelRejectedError, type Mux, muxOverWebSocket, runCorker } from '@sesame/protocol';
import WebSocket from 'ws';
import { type ApiClient, unreachable } from './api.ts';
import { CliError, ExitCodes, exitCodeFor } from './errors.ts';

const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGPIPE: 13,
  SIGTERM: 15,
};

/**
 * Set once a session is relayed: its output going away ends the session (exit 255), and from then on the command's
 * exit code is the session's, never the quiet 0 of a listing whose reader went.
 */
export const relaying = { started: false };

/**
 * Raw mode as ssh sets it (cfmakeraw): Node's setRawMode leaves output processing on, so the local tty would
 * turn every "\r\n" from the remote terminal into "\r\r\n" and spend CPU doing it. setRawMode(false)
 * restores the original settings, output processing included.
 */
function rawTerminal(stdin: NodeJS.ReadStream): void {
  stdin.setRawMode(true);
  spawnSync('stty', ['-opost'], { stdio: [stdin, 'ignore', 'ignore'] });
}

/**
 * Connects the client mux to the server (bearer token in the upgrade request). The mux is attached inside
 * the 'open' handler itself: the server's hello can arrive in the same read as the upgrade response, and
 * ws emits it before any awaiting code would run.
 */
function connect(api: ApiClient): Promise<Mux> {
  const url = `${api.url.replace(/^http/, 'ws')}/api/v1/connect`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${api.token}` },
      perMessageDeflate: false,
      maxPayload: 1024 * 1024,
      handshakeTimeout: 15_000,
      ...(pinnedTlsOptions(api.tls) as WebSocket.ClientOptions),
      ...maskingOptions(url),
    });
    ws.once('open', () => {
      const mux = muxOverWebSocket(ws, { side: 'b' }, clientDirectFrames(url));
      mux.hello({ client: 'sesame-cli' });
      resolve(mux);
    });
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let error: { code?: string; message?: string } = {};
        try {
          error = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error: typeof error }).error ?? {};
        } catch {}
        reject(
          new CliError(
            error.message ?? `the server refused the connection (HTTP ${res.statusCode})`,
            exitCodeFor(error.code),
          ),
        );
      });
    });
    ws.once('error', (e) => reject(unreachable(api.url, api.tls, e)));
  });
}

/**
 * An interactive shell on `target`: the terminal goes raw, keystrokes go to the channel, output comes back
 * with flow control (credit returns only when stdout took the bytes). Resolves with the exit code to use:
 * the remote shell's status, 128+signal, or 255 when the session could not start or was cut off.
 */
export async function startSession(
  api: ApiClient,
  target: string,
  io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const mux = await connect(api);
  const size = () => ({ cols: io.stdout.columns || 80, rows: io.stdout.rows || 24 });
  let channel: Channel;
  try {
    await mux.ready;
    channel = await mux.open({ kind: 'shell', target, ...size() });
  } catch (error) {
    mux.close();
    if (error instanceof ChannelRejectedError) throw new CliError(error.message, exitCodeFor(error.code));
    // Refused right after the upgrade (connections opened at once all pass the server's first look at the limit).
    const limited = /\bRATE_LIMITED\b/.test((error as Error).message);
    throw new CliError(
      `the session could not start: ${(error as Error).message}`,
      limited ? ExitCodes.RATE_LIMITED : ExitCodes.SESSION_FAILED,
    );
  }
  const sessionId = String(channel.info.sessionId);
  // Raw before the session is announced: keys typed from then on must reach the remote terminal as typed
  // (in cooked mode the local tty would turn Enter's \r into \n and buffer the line).
  const tty = io.stdin.isTTY === true;
  if (tty) rawTerminal(io.stdin);
  io.stderr.write(`\r\nStarting session with SessionId: ${sessionId}\r\n\r\n`);
  let exit: { code: number | null; signal: string | null } | undefined;

  return new Promise<number>((resolve) => {
    const onResize = () => {
      const { cols, rows } = size();
      channel.resize(cols, rows);
    };
    const onInput = (data: Buffer) => {
      if (!channel.write(data)) io.stdin.pause();
    };
    channel.onDrain = () => io.stdin.resume();
    channel.autoRelease = false;
    // The frames of one socket read arrive in one synchronous run: batched as the socket's are (runCorker).
    const terminal = runCorker(io.stdout);
    channel.onData = (data) => {
      terminal.beforeWrite(data.length);
      io.stdout.write(data, () => channel.release(data.length));
    };
    channel.onExit = (code, signal) => {
      exit = { code, signal };
    };
    // `sesame ssh host | head`: the reader went, so the rest of the session cannot be shown.
    const onOutputError = (error: NodeJS.ErrnoException) =>
      channel.close('SESSION_ENDED', `its output could not be written (${error.code ?? error.message})`);
    io.stdout.on('error', onOutputError);
    relaying.started = true;
    channel.onClose = (code, message) => {
      terminal.uncork(); // the last output goes out before the goodbye on stderr
      io.stdout.off('error', onOutputError);
      io.stdin.off('data', onInput);
      io.stdout.off('resize', onResize);
      if (tty) io.stdin.setRawMode(false);
      io.stdin.pause();
      mux.close();
      const normal = code === 'NORMAL' || code === '';
      io.stderr.write(
        normal
          ? `\n\nExiting session with sessionId: ${sessionId}.\n\n`
          : `\n\nSession ${sessionId} ended: ${message}\n`,
      );
      if (exit?.code !== undefined && exit.code !== null) resolve(exit.code);
      else if (exit?.signal)
        resolve(
          128 + (Object.hasOwn(SIGNAL_NUMBERS, exit.signal) ? (SIGNAL_NUMBERS[exit.signal] as number) : 0),
        );
      else resolve(ExitCodes.SESSION_FAILED);
    };
    io.stdin.on('data', onInput);
    io.stdin.on('end', () => channel.eof());
    io.stdout.on('resize', onResize);
    io.stdin.resume();
  });
}
