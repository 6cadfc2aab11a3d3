/**
 * Starts real Sesame processes for end-to-end tests: the server (`sesame-server`), agents
 * (`sesame-agent`) and the CLI (`sesame`), each in its own process with its own temp directories.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type IPty, spawn as spawnPty } from 'node-pty';

const root = resolve(import.meta.dirname, '../..');
export const bins = {
  server: join(root, 'packages/server/bin/sesame-server.js'),
  agent: join(root, 'packages/agent/bin/sesame-agent.js'),
  cli: join(root, 'packages/cli/bin/sesame.js'),
};
export const ADMIN_PASSWORD = 'correct horse battery staple';

export type Run = { code: number | null; stdout: string; stderr: string };

/** Collects a process's output and lets a test wait for a pattern in it. */
export class Output {
  text = '';
  #waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  push(chunk: string): void {
    this.text += chunk;
    this.#waiters = this.#waiters.filter((w) => {
      const match = this.text.match(w.pattern);
      if (match) w.resolve(match);
      return !match;
    });
  }
  wait(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const match = this.text.match(pattern);
    if (match) return Promise.resolve(match);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`timed out waiting for ${pattern}; output so far:\n${this.text.slice(-3000)}`)),
        timeoutMs,
      );
      this.#waiters.push({
        pattern,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }
}

export function runProcess(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

export type ServerProcess = {
  url: string;
  child: ChildProcess;
  output: Output;
  setupToken: string | undefined;
  stop(): Promise<void>;
};

export async function startServer(env: NodeJS.ProcessEnv): Promise<ServerProcess> {
  const child = spawn(process.execPath, [bins.server], {
    env: { ...process.env, SESAME_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = new Output();
  child.stdout?.on('data', (d) => output.push(String(d)));
  child.stderr?.on('data', (d) => output.push(String(d)));
  const exited = new Promise<never>((_, reject) =>
    child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${output.text}`))),
  );
  const [, url] = await Promise.race([output.wait(/sesame server ready at (\S+)/), exited]);
  exited.catch(() => {});
  const setup = output.text.match(/\/setup#token=(\S+)/);
  return {
    url: url as string,
    child,
    output,
    setupToken: setup?.[1],
    stop: () => stopChild(child),
  };
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    child.once('exit', () => done());
    child.kill(signal);
  });
}

export function startAgent(identity: string, extra: string[] = []): { child: ChildProcess; output: Output } {
  const child = spawn(
    process.execPath,
    [bins.agent, 'run', '--identity', identity, '--max-backoff-ms', '1000', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output = new Output();
  child.stdout?.on('data', (d) => output.push(String(d)));
  child.stderr?.on('data', (d) => output.push(String(d)));
  return { child, output };
}

/** A Sesame installation for one test file: temp data dir, a server, an administrator signed in with the CLI. */
export async function startSesame(env: NodeJS.ProcessEnv = {}, options: { fingerprint?: string } = {}) {
  const pin = options.fingerprint ? ['--fingerprint', options.fingerprint] : [];
  const dir = mkdtempSync(join(tmpdir(), 'sesame-e2e-'));
  const dataDir = join(dir, 'data');
  const serverEnv = { SESAME_DATA_DIR: dataDir, SESAME_PORT: '0', ...env };
  let server = await startServer(serverEnv);
  const homes = new Map<string, string>();
  const home = (user: string) => {
    if (!homes.has(user)) homes.set(user, join(dir, `home-${user}`));
    return homes.get(user) as string;
  };
  const cli = (args: string[], as = 'admin', input?: string) =>
    runProcess([bins.cli, ...args], {
      env: { SESAME_HOME: home(as) },
      ...(input === undefined ? {} : { input }),
    });
  const setup = await cli(
    ['setup', '--url', server.url, '--token', server.setupToken as string, ...pin],
    'admin',
    `${ADMIN_PASSWORD}\n`,
  );
  if (setup.code !== 0) throw new Error(`admin setup failed: ${setup.stderr}`);
  const agents: ChildProcess[] = [];

  return {
    dir,
    dataDir,
    get url() {
      return server.url;
    },
    get server() {
      return server;
    },
    cli,
    home,
    /** Creates an activation with the CLI and registers an agent with it; returns the identity path and instance id. */
    async registerAgent(name: string, options: { tags?: string[]; kind?: string } = {}) {
      const created = await cli([
        'admin',
        'activations',
        'create',
        '--name',
        name,
        '--kind',
        options.kind ?? 'managed',
        '--output',
        'json',
        ...(options.tags ?? []).flatMap((t) => ['--tag', t]),
      ]);
      if (created.code !== 0) throw new Error(`activation failed: ${created.stderr}`);
      const { activationId, activationCode } = JSON.parse(created.stdout);
      const identity = join(dir, `agent-${name}`, 'identity.json');
      const registered = await runProcess([
        bins.agent,
        'register',
        '--url',
        server.url,
        '--activation-id',
        activationId,
        '--activation-code',
        activationCode,
        '--identity',
        identity,
        ...pin,
      ]);
      if (registered.code !== 0) throw new Error(`register failed: ${registered.stderr}`);
      const instanceId = registered.stdout.match(/registered as (\S+)/)?.[1] as string;
      return { identity, instanceId, activationId, activationCode };
    },
    startAgent(identity: string) {
      const agent = startAgent(identity);
      agents.push(agent.child);
      return agent;
    },
    /** Polls `sesame instances` until the instance has the status. */
    async waitForStatus(instanceId: string, status: 'Online' | 'ConnectionLost', timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const list = await cli(['instances', '--output', 'json']);
        const instance =
          list.code === 0
            ? JSON.parse(list.stdout).instances.find((i: { id: string }) => i.id === instanceId)
            : undefined;
        if (instance?.status === status) return instance;
        if (Date.now() > deadline)
          throw new Error(`${instanceId} did not become ${status}: ${list.stdout}${list.stderr}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    /** Runs `sesame ssh` in a real PTY, as a person would. */
    shell(target: string, as = 'admin', size = { cols: 80, rows: 24 }) {
      const output = new Output();
      const pty: IPty = spawnPty(process.execPath, [bins.cli, 'ssh', target], {
        name: 'xterm-256color',
        ...size,
        env: { ...process.env, SESAME_HOME: home(as) } as Record<string, string>,
      });
      pty.onData((d) => output.push(d));
      const exit = new Promise<number>((done) => pty.onExit(({ exitCode }) => done(exitCode)));
      return { pty, output, exit };
    },
    async restartServer() {
      await server.stop();
      const port = new URL(server.url).port;
      server = await startServer({ ...serverEnv, SESAME_PORT: port });
    },
    async stop() {
      if (process.env.SESAME_E2E_DEBUG)
        process.stderr.write(`--- server output ---\n${server.output.text}\n`);
      for (const agent of agents) await stopChild(agent);
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every recording file under a data directory. */
export function recordings(dataDir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.cast')) out.push(p);
    }
  };
  walk(join(dataDir, 'recordings'));
  return out;
}
