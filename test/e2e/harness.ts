/**
 * Starts real Sesame processes for end-to-end tests: the server (`sesame-server`), agents
 * (`sesame-agent`) and the CLI (`sesame`), each in its own process with its own temp directories.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type IPty, spawn as spawnPty } from 'node-pty';
import { URI as OtpUri, TOTP } from 'otpauth';

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

const TOTP_PERIOD_MS = 30_000;

/**
 * The authenticator app of every test user: the TOTP secrets the harness saw the CLI print while enrolling,
 * and, per user, the last time step it used, since a code works once (the server accepts the steps now-1 to
 * now+1 that it has not seen; a second code in one step is the next step's, a third waits).
 */
export class Authenticators {
  #secrets = new Map<string, TOTP>();
  #lastStep = new Map<string, number>();

  /** Learns the secret in an `otpauth://totp/Issuer:user?secret=…` URI; returns the user name. */
  learn(uri: string): string {
    const totp = OtpUri.parse(uri);
    if (!(totp instanceof TOTP)) throw new Error(`not a TOTP URI: ${uri}`);
    this.#secrets.set(totp.label, totp);
    return totp.label;
  }

  has(user: string): boolean {
    return this.#secrets.has(user);
  }

  secret(user: string): string {
    return this.#totp(user).secret.base32;
  }

  #totp(user: string): TOTP {
    const totp = this.#secrets.get(user);
    if (!totp) throw new Error(`no authenticator registered for ${user}`);
    return totp;
  }

  /** A code the server has not seen yet for this user (waits for the next step when it must). */
  async code(user: string): Promise<string> {
    const totp = this.#totp(user);
    for (;;) {
      const now = Date.now();
      const current = Math.floor(now / TOTP_PERIOD_MS);
      const step = Math.max(current, (this.#lastStep.get(user) ?? -1) + 1);
      if (step <= current + 1) {
        this.#lastStep.set(user, step);
        return totp.generate({ timestamp: step * TOTP_PERIOD_MS });
      }
      await new Promise((r) => setTimeout(r, (current + 1) * TOTP_PERIOD_MS - now + 50));
    }
  }
}

/** The commands that may ask for an MFA code. */
const SIGN_IN_COMMANDS = new Set(['login', 'setup', 'mfa']);
const CODE_PROMPT = /Code from your authenticator app:/g;

/**
 * Runs the CLI like `runProcess`, and answers its MFA questions as a person with an authenticator app would:
 * it learns the secret from the otpauth URI the CLI prints when enrolling, and types the current code when
 * asked. `input` (the password) is written first. A question it cannot answer (an emailed code) closes stdin.
 */
export function runCli(
  args: string[],
  options: {
    home: string;
    input?: string;
    authenticators: Authenticators;
    user?: string;
    env?: NodeJS.ProcessEnv;
    timeoutMs?: number;
  },
): Promise<Run> {
  const interactive = SIGN_IN_COMMANDS.has(args[0] ?? '');
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [bins.cli, ...args], {
      env: { ...process.env, ...options.env, SESAME_HOME: options.home },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let answered = 0;
    let enrolledAs: string | undefined;
    const userIndex = args.indexOf('--user');
    const user = () => enrolledAs ?? (userIndex >= 0 ? args[userIndex + 1] : undefined) ?? options.user;
    const answer = async () => {
      const asked = stderr.match(CODE_PROMPT)?.length ?? 0;
      while (answered < asked) {
        answered++;
        const who = user();
        if (!who || !options.authenticators.has(who)) {
          child.stdin.end();
          return;
        }
        const code = await options.authenticators.code(who);
        if (child.exitCode === null && child.stdin.writable) child.stdin.write(`${code}\n`);
      }
      if (/Code from the email:/.test(stderr)) child.stdin.end();
    };
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!interactive) return;
      const uri = stderr.match(/otpauth:\/\/totp\/[^\s)]+/g)?.at(-1);
      if (uri) enrolledAs = options.authenticators.learn(uri);
      answer().catch(fail);
    });
    child.stdin.on('error', () => {});
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
    if (options.input) child.stdin.write(options.input);
    if (!interactive) child.stdin.end();
  });
}

/**
 * Signs in over HTTP as the web console does (`client: "web"`), answering MFA with the user's authenticator;
 * returns the session cookie and the CSRF token for state-changing requests.
 */
export async function webSignIn(
  url: string,
  username: string,
  password: string,
  authenticators: Authenticators,
): Promise<{ cookie: string; csrfToken: string; headers: Record<string, string> }> {
  // A browser's cookie jar: the device cookie from the first step binds the MFA step to this browser.
  const jar = new Map<string, string>();
  const cookie = () => [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(jar.size > 0 ? { cookie: cookie() } : {}) },
      body: JSON.stringify(body),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      if (at > 0) jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
    const value = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status} ${JSON.stringify(value)}`);
    return value;
  };
  let step = await post('/api/v1/auth/login', { username, password, client: 'web' });
  if (step.status === 'mfa-required')
    step = await post('/api/v1/auth/mfa', {
      flow: step.flow,
      method: 'totp',
      code: await authenticators.code(username),
      client: 'web',
    });
  if (step.status !== 'signed-in' || !(jar.has('sesame_session') || jar.has('__Host-sesame_session')))
    throw new Error(`web sign-in: ${JSON.stringify(step)}`);
  const csrfToken = String(step.csrfToken);
  return { cookie: cookie(), csrfToken, headers: { cookie: cookie(), 'x-csrf-token': csrfToken } };
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

/**
 * A Sesame installation for one test file: temp data dir, a server, an administrator signed in with the CLI
 * (enrolled in TOTP, as every sign-in needs MFA). Unless `mfaPrompt: 'always'`, the MFA prompt is set to
 * `context-change`, so a user signing in again from the same home and address is not asked again.
 */
export async function startSesame(
  env: NodeJS.ProcessEnv = {},
  options: { fingerprint?: string; mfaPrompt?: 'always' | 'context-change' } = {},
) {
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
  const authenticators = new Authenticators();
  /** Runs `sesame` as `as` (its own SESAME_HOME), answering MFA prompts with that user's authenticator. */
  const cli = (args: string[], as = 'admin', input?: string) =>
    runCli(args, { home: home(as), authenticators, user: as, ...(input === undefined ? {} : { input }) });
  const setup = await cli(
    ['setup', '--url', server.url, ...pin],
    'admin',
    `${server.setupToken}\n${ADMIN_PASSWORD}\n`,
  );
  if (setup.code !== 0) throw new Error(`admin setup failed: ${setup.stderr}`);
  const prompt = options.mfaPrompt ?? 'context-change';
  if (prompt !== 'always') {
    const set = await cli(['admin', 'mfa', 'set', '--prompt', prompt]);
    if (set.code !== 0) throw new Error(`admin mfa set failed: ${set.stderr}`);
  }
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
    /** Every user's authenticator app (TOTP secrets learned at enrolment). */
    authenticators,
    /** Signs in over HTTP as the web console does; the cookie and CSRF headers for API calls. */
    webSignIn(username: string, password: string) {
      return webSignIn(server.url, username, password, authenticators);
    },
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
    /**
     * The session as `sesame sessions --state history` shows it, once it is there: the server tells the client at
     * once that a session ended, then seals the recording and writes the end, so a command run right after the
     * client exited can still find it running.
     */
    async endedSession(sessionId: string, as = 'admin', timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const history = await cli(['sessions', '--state', 'history', '--output', 'json'], as);
        const session =
          history.code === 0
            ? JSON.parse(history.stdout).sessions.find((s: { id: string }) => s.id === sessionId)
            : undefined;
        if (session) return session;
        if (Date.now() > deadline)
          throw new Error(
            `${sessionId} did not end within ${timeoutMs} ms: ${history.stdout}${history.stderr}`,
          );
        await new Promise((r) => setTimeout(r, 100));
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
