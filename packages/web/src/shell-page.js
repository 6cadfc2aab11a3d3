// The browser shell (served bundled as /assets/shell.js): xterm.js in the page, the Sesame protocol over a
// same-origin WebSocket to /api/v1/connect (the session cookie signs it in), one shell channel to the target.
import { ChannelRejectedError, muxOverBrowserWebSocket } from '@sesame/protocol';
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { adoptInlineStyles } from './adopted-styles.js';

const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGPIPE: 13, SIGTERM: 15 };

/**
 * Opens a shell on `target` in a terminal inside `container`. `report(text, role)` tells the person what
 * happened (role 'alert' for failures); `ended()` is called once a session that started is over. Resolves once
 * the session started; rejects if it could not.
 */
export async function openShell(container, target, report, ended = () => {}) {
  adoptInlineStyles();
  const terminal = new Terminal({ cursorBlink: true, convertEol: false, scrollback: 5000 });
  const fit = new FitAddon();
  terminal.loadAddon(fit);
  terminal.open(container);
  fit.fit();

  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${scheme}//${location.host}/api/v1/connect`);
  const mux = muxOverBrowserWebSocket(ws, { side: 'b' });
  ws.addEventListener('open', () => mux.hello({ client: 'sesame-web' }));

  let channel;
  try {
    await mux.ready;
    channel = await mux.open({ kind: 'shell', target, cols: terminal.cols, rows: terminal.rows });
  } catch (error) {
    mux.close();
    terminal.options.disableStdin = true;
    if (error instanceof ChannelRejectedError) throw new Error(error.message);
    throw new Error(
      'The shell could not start: the connection to Sesame failed. Reload the page, or sign in again if your session expired.',
    );
  }
  const sessionId = String(channel.info.sessionId ?? '');
  report(`Connected to ${target}${sessionId ? ` (session ${sessionId})` : ''}.`);

  const encoder = new TextEncoder();
  let exit;
  channel.autoRelease = false;
  channel.onData = (data) => terminal.write(data, () => channel.release(data.length));
  channel.onExit = (code, signal) => {
    exit = { code, signal };
  };
  const input = terminal.onData((text) => channel.write(encoder.encode(text)));
  const binary = terminal.onBinary((text) =>
    channel.write(Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff)),
  );
  const resized = terminal.onResize(({ cols, rows }) => channel.resize(cols, rows));
  const onWindowResize = () => fit.fit();
  window.addEventListener('resize', onWindowResize);
  channel.onClose = (code, message) => {
    input.dispose();
    binary.dispose();
    resized.dispose();
    window.removeEventListener('resize', onWindowResize);
    terminal.options.disableStdin = true;
    terminal.options.cursorBlink = false;
    mux.close();
    if (exit?.code !== undefined && exit.code !== null) report(`Session ended (exit ${exit.code}).`);
    else if (exit?.signal)
      report(`Session ended (exit ${128 + (SIGNALS[exit.signal] ?? 0)}, ${exit.signal}).`);
    else if (code === 'NORMAL' || code === '') report('Session ended.');
    else report(`Session ended: ${message || code}.`, 'alert');
    ended();
  };
  terminal.focus();
}
