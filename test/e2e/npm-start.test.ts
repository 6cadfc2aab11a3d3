/**
 * `npm start` as a new user runs it: a working Sesame with a local agent, a one-time setup link, a shell on
 * the local instance; Ctrl-C stops everything; starting again reuses the data.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { spawn as spawnPty } from 'node-pty';
import { ADMIN_PASSWORD, Authenticators, bins, Output, runCli } from './harness.ts';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'sesame-start-'));
const dataDir = join(dir, 'data');
const home = join(dir, 'home');

const started: ChildProcess[] = [];

function npmStart(): { child: ChildProcess; output: Output } {
  // detached: its own process group, so the test can send Ctrl-C the way a terminal does (to the group).
  const child = spawn('npm', ['start'], {
    cwd: root,
    detached: true,
    env: { ...process.env, SESAME_DATA_DIR: dataDir, SESAME_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  const output = new Output();
  child.stdout?.on('data', (d) => output.push(String(d)));
  child.stderr?.on('data', (d) => output.push(String(d)));
  return { child, output };
}

/** Processes whose command line mentions the data directory (the server's agent child). */
function processesUsing(path: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(path);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Ctrl-C to the process group; npm itself dies of the SIGINT, the processes it started must exit cleanly. */
async function ctrlC(child: ChildProcess): Promise<string> {
  const exited = new Promise<string>((done) =>
    child.once('exit', (code, signal) => done(String(code ?? signal))),
  );
  process.kill(-(child.pid as number), 'SIGINT');
  return within(exited, 20_000, 'Ctrl-C did not stop npm start');
}

// The harness answers the authenticator-app enrolment that setting the password leads to.
const authenticators = new Authenticators();
const cli = (args: string[], input?: string) =>
  runCli(args, { home, authenticators, user: 'admin', ...(input ? { input } : {}) });

after(() => {
  // A failed assertion must not leave Sesame running (and this file never exiting).
  for (const child of started)
    if (child.exitCode === null && child.signalCode === null) process.kill(-(child.pid as number), 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** `promise`, or a failure saying `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

test('npm start brings up a working Sesame; Ctrl-C stops it; a restart reuses the data', async () => {
  const first = npmStart();
  const [, url] = await first.output.wait(/Sesame is running at (\S+)/, 60_000);
  // By name: browsers refuse security keys on a page opened by address.
  assert.match(url as string, /^http:\/\/localhost:\d+$/);
  const [, instanceId] = await first.output.wait(/Local instance: (mi-[0-9a-f]{17})/);
  const [, token] = await first.output.wait(/\/setup#token=(\S+)/);
  assert.match(first.output.text, /ssh local/);

  const page = await fetch(`${url}/setup`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /Set your Sesame password/);

  const setup = await cli(['setup'], `${url}/setup#token=${token}\n${ADMIN_PASSWORD}\n`);
  assert.equal(setup.code, 0, setup.stderr);
  let instances: { id: string; name: string; status: string }[] = [];
  for (let i = 0; i < 100 && !instances.some((x) => x.status === 'Online'); i++) {
    instances = JSON.parse((await cli(['instances', '--output', 'json'])).stdout).instances;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.deepEqual(
    instances.map((i) => [i.id, i.name, i.status]),
    [[instanceId, 'local', 'Online']],
  );

  const shell = spawnPty(process.execPath, [bins.cli, 'ssh', 'local'], {
    env: { ...process.env, SESAME_HOME: home } as Record<string, string>,
  });
  const out = new Output();
  shell.onData((d) => out.push(d));
  const exit = new Promise<number>((done) => shell.onExit(({ exitCode }) => done(exitCode)));
  await out.wait(/Starting session/);
  shell.write('echo "local-$((40+2))"\r');
  await out.wait(/local-42/);

  // The data directory holds the database (password hashes, MFA secrets) and the recordings: its owner's alone.
  assert.equal(statSync(dataDir).mode & 0o777, 0o700);
  // A second npm start on the same data is refused before it touches anything: the live session goes on.
  const intruder = npmStart();
  const refused = new Promise<number | null>((done) => intruder.child.once('exit', done));
  assert.equal(await within(refused, 40_000, 'the second npm start did not exit'), 1);
  assert.match(intruder.output.text, /another Sesame server is using the data directory/);
  shell.write('echo "still-$((40+3))"; exit 3\r');
  await out.wait(/still-43/);
  assert.equal(await exit, 3);
  // The client hears of the end at once; the server then seals the recording and writes the end.
  let sessions = { sessions: [] as { state: string; reason: string }[] };
  for (let tries = 0; sessions.sessions.length === 0 && tries < 100; tries++) {
    if (tries > 0) await new Promise((r) => setTimeout(r, 100));
    sessions = JSON.parse((await cli(['sessions', '--state', 'history', '--output', 'json'])).stdout);
  }
  assert.deepEqual(
    sessions.sessions.map((x) => [x.state, x.reason]),
    [['Terminated', 'exited']],
  );

  assert.match(await ctrlC(first.child), /^(0|SIGINT)$/);
  assert.match(first.output.text, /stopping Sesame/);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(processesUsing(dataDir), [], 'the agent stopped too');

  const second = npmStart();
  await second.output.wait(/Sesame is running at (\S+)/, 60_000);
  assert.match(second.output.text, new RegExp(`Local instance: ${instanceId}`), 'same instance');
  assert.doesNotMatch(second.output.text, /setup#token=/, 'the administrator already has a password');
  assert.match(second.output.text, /login --url \S+ --user admin/);
  // The agent dies of a signal before Ctrl-C is handled (as one still starting does when Ctrl-C reaches the
  // whole group): npm start says so, and Ctrl-C still stops the rest.
  const agents = processesUsing(dataDir);
  assert.equal(agents.length, 1, 'one local agent runs');
  process.kill(agents[0] as number, 'SIGKILL');
  await second.output.wait(/the local agent exited \(SIGKILL\)/);
  assert.match(await ctrlC(second.child), /^(0|SIGINT)$/);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(processesUsing(dataDir), []);
});
