import type { Channel } from '@sesame/protocol';
import { type IPty, spawn } from 'node-pty';
import type { Logger } from 'pino';
import { PtyInput } from './pty-input.ts';
import type { RunAsUser } from './run-as.ts';

const MAX_TERMINAL = 1000;

function size(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_TERMINAL
    ? value
    : fallback;
}

const SIGNALS: Record<number, string> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  3: 'SIGQUIT',
  6: 'SIGABRT',
  9: 'SIGKILL',
  13: 'SIGPIPE',
  15: 'SIGTERM',
};

/**
 * Runs a login shell in a PTY as the run-as user and joins it to a channel. The PTY is paused while the
 * channel has no credit, so a flood of output waits in the kernel, not in this process.
 */
export function serveShell(channel: Channel, user: RunAsUser, log: Logger): IPty {
  const cols = size(channel.spec.cols, 80);
  const rows = size(channel.spec.rows, 24);
  const asRoot = process.getuid?.() === 0;
  const pty = spawn(user.shell, ['-l'], {
    name: 'xterm-256color',
    cols,
    rows,
    cwd: user.home,
    encoding: null,
    env: {
      HOME: user.home,
      USER: user.name,
      LOGNAME: user.name,
      SHELL: user.shell,
      TERM: 'xterm-256color',
      LANG: process.env.LANG ?? 'C.UTF-8',
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      SESAME_SESSION_ID: String(channel.spec.sessionId ?? ''),
    },
    ...(asRoot ? { uid: user.uid, gid: user.gid } : {}),
  });
  const sessionId = channel.spec.sessionId;
  log.info({ sessionId, pid: pty.pid, user: user.name }, 'shell started');

  pty.onData((data) => {
    if (!channel.write(data as unknown as Uint8Array)) pty.pause();
  });
  channel.onDrain = () => pty.resume();
  const input = new PtyInput((pty as unknown as { fd: number }).fd);
  channel.autoRelease = false;
  channel.onData = (data) => input.write(data, () => channel.release(data.length));
  channel.onEof = () => input.write(new Uint8Array([4]), () => {}); // ^D: end of input for the program reading
  channel.onResize = (c, r) => pty.resize(size(c, cols), size(r, rows));
  channel.onClose = () => {
    input.close();
    try {
      pty.kill('SIGHUP');
    } catch {
      // already gone
    }
  };
  pty.onExit(({ exitCode, signal }) => {
    // Let the last output that node-pty already read reach the channel, then report the exit.
    // Exit and a normal close queue behind output still waiting for credit: the user sees all of it.
    setImmediate(() => {
      channel.exit(signal ? null : exitCode, signal ? (SIGNALS[signal] ?? `SIG${signal}`) : null);
      channel.close();
      log.info({ sessionId, exitCode, signal }, 'shell exited');
    });
  });
  return pty;
}
