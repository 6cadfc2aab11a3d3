import { closeSync, constants, openSync } from 'node:fs';
import type { Channel } from '@sesame/protocol';
import { type IPty, spawn } from 'node-pty';
import type { Logger } from 'pino';
import { OutputBatcher } from './output-batcher.ts';
import { PtyInput } from './pty-input.ts';
import type { RunAsUser } from './run-as.ts';

const MAX_TERMINAL = 1000;
/** Output taken from a terminal after its shell exited, at most (a kernel holds far less). */
const DRAIN_MAX_BYTES = 1024 * 1024;
/** How long a shell whose session ended may take to go after SIGHUP before it is killed. */
const HANGUP_GRACE_MS = 3000;
/** The end of the client's input (see typeEndOfInput): the shell is at rest after this long without output… */
const EOF_QUIET_MS = 100;
/** …or, when it has printed nothing yet, this long after it started; and the ^D is typed at most this often. */
const EOF_SILENT_MS = 1000;
const EOF_MAX_TIMES = 100;
const END_OF_INPUT = Uint8Array.of(4);

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
 * Calls `spawn` with this process's supplementary groups set to `user`'s (initgroups), then puts its own back.
 * node-pty's child switches only the user and primary group before it runs the shell, so the shell would keep
 * the agent's groups (root's: 0, and disk, adm or wheel on some systems). The fork happens inside the
 * synchronous spawn call, so the child takes the user's groups with it. Without `user` (the agent is not root
 * and runs shells as itself) it just spawns.
 */
export function withGroupsOf<T>(user: RunAsUser | undefined, spawn: () => T): T {
  if (!user) return spawn();
  const own = process.getgroups?.() ?? [];
  // Node has process.initgroups on POSIX; @types/node leaves it out.
  const node = process as NodeJS.Process & { initgroups?: (user: string, extraGroup: number) => void };
  if (!node.initgroups) return spawn();
  node.initgroups(user.name, user.gid);
  try {
    return spawn();
  } finally {
    process.setgroups?.(own);
  }
}

/**
 * Runs a login shell in a PTY as the run-as user and joins it to a channel. The PTY is paused while the
 * channel has no credit, so a flood of output waits in the kernel, not in this process.
 */
export function serveShell(channel: Channel, user: RunAsUser, log: Logger): IPty {
  const cols = size(channel.spec.cols, 80);
  const rows = size(channel.spec.rows, 24);
  const asRoot = process.getuid?.() === 0;
  const pty = withGroupsOf(asRoot ? user : undefined, () =>
    spawn(user.shell, ['-l'], {
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
    }),
  );
  const sessionId = channel.spec.sessionId;
  log.info({ sessionId, pid: pty.pid, user: user.name }, 'shell started');

  // The shell's last output must not be lost when it exits while the PTY is paused (no credit). Linux drops
  // what the master has not read yet when the last process holding the terminal closes it, and node-pty
  // destroys the stream 200 ms after the exit anyway. So, as sshd does, hold the terminal's other end open
  // ourselves: the shell's exit is then not the last close. When node-pty gives up waiting (it calls destroy),
  // read the rest into the channel's queue (the writers are gone: at most the kernel's buffer), then let go of
  // our end; the next read ends with EIO and node-pty closes as usual. (node-pty 1.x: `_pty` is the terminal's
  // path, `_socket` the master's stream; a safety timer still destroys it if it never ends.)
  const internals = pty as unknown as {
    _pty?: string;
    _socket?: { destroy: (error?: Error) => unknown };
    /** Set by node-pty when it reaped the shell before its terminal closed (it emits 'exit' only then). */
    _boundClose?: boolean;
  };
  let heldOpen: number | undefined;
  try {
    if (internals._pty) heldOpen = openSync(internals._pty, constants.O_RDWR | constants.O_NOCTTY);
  } catch (error) {
    log.warn(
      { sessionId, err: (error as Error).message },
      'cannot hold the terminal open: output at exit may be cut',
    );
  }
  const letGo = () => {
    if (heldOpen === undefined) return;
    closeSync(heldOpen);
    heldOpen = undefined;
  };
  let draining = false;
  let quiet: ReturnType<typeof setTimeout> | undefined;
  const settle = () => {
    clearTimeout(quiet);
    quiet = setTimeout(letGo, 100);
  };
  const socket = internals._socket;
  if (socket) {
    const destroy = socket.destroy.bind(socket);
    socket.destroy = (error?: Error) => {
      if (draining || error) return destroy(error);
      draining = true;
      pty.resume();
      settle();
      setTimeout(() => destroy(), 10_000).unref();
      return socket;
    };
  }
  const output = new OutputBatcher((data) => {
    if (!channel.write(data) && !draining) pty.pause();
  });
  // While draining, the channel takes output without credit: what the kernel held at the exit is small, but a
  // background program still writing to the terminal (`yes & exit`) is not, so past DRAIN_MAX_BYTES it stops.
  let drained = 0;
  /** Closes our end of the terminal now, drain or not (with `draining` set, our destroy() passes straight on). */
  const closeTerminal = () => {
    draining = true;
    clearTimeout(quiet);
    letGo();
    socket?.destroy();
  };
  const startedAt = performance.now();
  let lastOutputAt = 0;
  let outputSinceEof = true;
  pty.onData((data) => {
    lastOutputAt = performance.now();
    outputSinceEof = true;
    if (draining) {
      drained += data.length;
      if (drained > DRAIN_MAX_BYTES) return closeTerminal();
      settle();
    }
    output.push(data as unknown as Uint8Array);
  });
  channel.onDrain = () => pty.resume();
  const input = new PtyInput((pty as unknown as { fd: number }).fd);
  channel.autoRelease = false;
  channel.onData = (data) => input.write(data, () => channel.release(data.length));
  // The end of the client's input (`sesame ssh host < script`) is a ^D, typed once the terminal is at rest: the
  // shell has printed something (its prompt) and nothing more for EOF_QUIET_MS. One typed while the shell is still
  // starting, or while a command that does not read runs, is lost when readline takes the terminal back (switching
  // it to raw mode turns a pending ^D into a NUL); so it is typed again each time the terminal comes to rest after
  // more output, at most EOF_MAX_TIMES (a command reading the terminal, `cat`, takes it as its own end of input,
  // as it would have taken the end of the script). A shell that prints nothing gets it EOF_SILENT_MS after it
  // started. What is left waits for the session's idle timeout.
  let eofsLeft = 0;
  let eofTimer: NodeJS.Timeout | undefined;
  const typeEndOfInput = () => {
    if (eofsLeft === 0 || draining || reaped()) return;
    const wait = lastOutputAt
      ? lastOutputAt + EOF_QUIET_MS - performance.now()
      : startedAt + EOF_SILENT_MS - performance.now();
    if (outputSinceEof && wait <= 0) {
      outputSinceEof = false;
      eofsLeft--;
      input.write(END_OF_INPUT, () => {});
    }
    eofTimer = setTimeout(typeEndOfInput, Math.max(wait, EOF_QUIET_MS));
  };
  channel.onEof = () => {
    eofsLeft = EOF_MAX_TIMES;
    typeEndOfInput();
  };
  let exited = false;
  /**
   * The shell is gone: node-pty reaped it. Its 'exit' comes only once the terminal has closed too, which a
   * background job still holding the terminal (`sleep 100 & exit`) puts off for up to 10 s; meanwhile its pid
   * may already belong to another process, which must not get our signals.
   */
  const reaped = () => exited || internals._boundClose === true;
  channel.onResize = (c, r) => {
    if (reaped() || draining) return; // no one to tell, and the terminal may be closed (EBADF would end the channel)
    pty.resize(size(c, cols), size(r, rows));
  };
  channel.onClose = () => {
    clearTimeout(eofTimer);
    output.discard();
    input.close();
    if (reaped()) {
      closeTerminal(); // the job holding it gets the hangup; the shell's pid is not ours to signal
      return;
    }
    // The session is over (ended, terminated, timed out, or the client left): hang up the terminal as sshd does
    // by closing it. SIGHUP, then the terminal goes away (reads end with EIO); a shell that ignores both is
    // killed after HANGUP_GRACE_MS, so it cannot hold its terminal (and the session's user) forever.
    pty.kill('SIGHUP');
    closeTerminal();
    setTimeout(() => {
      if (!reaped()) pty.kill('SIGKILL');
    }, HANGUP_GRACE_MS).unref();
  };
  pty.onExit(({ exitCode, signal }) => {
    exited = true;
    clearTimeout(quiet);
    clearTimeout(eofTimer);
    letGo();
    // Let the last output that node-pty already read reach the channel, then report the exit.
    // Exit and a normal close queue behind output still waiting for credit: the user sees all of it.
    setImmediate(() => {
      output.flush();
      channel.exit(signal ? null : exitCode, signal ? (SIGNALS[signal] ?? `SIG${signal}`) : null);
      channel.close();
      log.info({ sessionId, exitCode, signal }, 'shell exited');
    });
  });
  return pty;
}
