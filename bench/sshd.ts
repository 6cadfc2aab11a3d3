/**
 * A private OpenSSH server for the benchmark: Debian's sshd on 127.0.0.1 on a free port, with its own
 * config, host key and client key in a temp directory. Nothing of the system's sshd setup is used.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild } from '../test/e2e/harness.ts';

export const SSHD = '/usr/sbin/sshd';

export type PrivateSshd = {
  port: number;
  /** The listening sshd; the per-connection sshd processes are its descendants. */
  pid: number;
  /** The client command for an interactive shell: `ssh -tt … root@127.0.0.1`. */
  client: { file: string; args: string[] };
  /**
   * The same through a jump host (`ssh -J`, spelled out as the ProxyCommand it stands for: `ssh -W`), the
   * bastion set-up that Sesame replaces. The jump host is this same sshd.
   */
  jumpClient: { file: string; args: string[] };
  stop(): Promise<void>;
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${stderr()}`);
    if (Date.now() > deadline)
      throw new Error(`sshd did not listen on ${port} in ${timeoutMs} ms: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startSshd(): Promise<PrivateSshd> {
  if (!existsSync(SSHD))
    throw new Error(
      `${SSHD} is missing; install it with: apt-get install -y --no-install-recommends openssh-server openssh-client`,
    );
  const dir = mkdtempSync(join(tmpdir(), 'sesame-bench-sshd-'));
  const hostKey = join(dir, 'host_ed25519');
  const clientKey = join(dir, 'client_ed25519');
  for (const key of [hostKey, clientKey])
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'sesame-bench', '-f', key]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${clientKey}.pub`), { mode: 0o600 });
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UseDNS no',
      'PrintMotd no',
      'PrintLastLog no',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  try {
    await waitForPort(port, child, () => stderr);
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const options = [
    '-F',
    '/dev/null',
    '-p',
    String(port),
    '-i',
    clientKey,
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'LogLevel=ERROR',
  ];
  const proxy = ['ssh', ...options, '-W', '%h:%p', 'root@127.0.0.1'].join(' ');
  return {
    port,
    pid: child.pid as number,
    client: { file: 'ssh', args: ['-tt', ...options, 'root@127.0.0.1'] },
    jumpClient: { file: 'ssh', args: ['-tt', ...options, '-o', `ProxyCommand=${proxy}`, 'root@127.0.0.1'] },
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `ssh -V` (printed on stderr), for the report. */
export function sshVersion(): string {
  const run = spawnSync('ssh', ['-V'], { encoding: 'utf8' });
  return `${run.stderr ?? ''}${run.stdout ?? ''}`.trim() || 'ssh: unknown version';
}
