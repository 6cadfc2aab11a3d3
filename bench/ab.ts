/**
 * `npm run bench:ab -- <revision or checkout>`: keystroke echo latency of a new `sesame ssh` on this checkout
 * (B) against another version (A), in one run, with OpenSSH measured alongside. A single `npm run bench` moves its
 * echo row by 50–100 µs from run to run, more than most single changes; taking turns in one run shows them.
 *
 * A is a directory holding a Sesame checkout, or a git revision: it is checked out as a detached worktree under
 * the temp directory (kept for the next run) with this checkout's node_modules hard-linked into it when the
 * package lock is the same (`npm ci` otherwise). Each version runs its own server and agent from its own
 * sources (its own e2e harness). Both are warmed alike (BENCH_SERVER_WARMUP keys over BENCH_WARMUP_SESSIONS
 * sessions); then each round opens a new `sesame ssh` of each version and a new `ssh -tt`, in an order that
 * turns every round, and measures BENCH_KEYS keys after BENCH_WARMUP. It prints every round, the median of the
 * per-session p50s with their ratios to OpenSSH, how many rounds B was faster, and the two-sided sign test.
 *
 * Settings (environment): AB_ROUNDS (12), BENCH_KEYS (300), BENCH_WARMUP (20), BENCH_SERVER_WARMUP (5000),
 * BENCH_WARMUP_SESSIONS (5). Results: bench/out/ab-results.json.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { echoLatency, median, prepareShell, setting, summarize } from './measure.ts';
import { loadAverage } from './process-cpu.ts';
import { type ClientCommand, PtyClient } from './pty-client.ts';
import { startSshd } from './sshd.ts';

const rounds = setting('AB_ROUNDS', 12);
const keys = setting('BENCH_KEYS', 300);
const warmup = setting('BENCH_WARMUP', 20);
const serverWarmup = setting('BENCH_SERVER_WARMUP', 5000, 0);
const warmupSessions = setting('BENCH_WARMUP_SESSIONS', 5);
const HERE = resolve(import.meta.dirname, '..');
const OUT = join(import.meta.dirname, 'out');
const say = (text: string) => process.stdout.write(`${text}\n`);
const git = (args: string[], cwd = HERE) =>
  execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** The checkout of version A: `spec` itself when it is a Sesame checkout, else a worktree of revision `spec`. */
function checkoutOf(spec: string): { dir: string; label: string } {
  const asDir = resolve(spec);
  if (existsSync(join(asDir, 'test/e2e/harness.ts'))) return { dir: asDir, label: asDir };
  let commit: string;
  try {
    commit = git(['rev-parse', '--verify', `${spec}^{commit}`]);
  } catch {
    throw new Error(
      `"${spec}" is neither a Sesame checkout (no test/e2e/harness.ts) nor a git revision here`,
    );
  }
  const dir = join(tmpdir(), `sesame-ab-${commit.slice(0, 12)}`);
  if (!existsSync(join(dir, 'package.json'))) {
    say(`checking out ${commit.slice(0, 12)} in ${dir}`);
    git(['worktree', 'add', '--detach', '--force', dir, commit]);
  }
  if (!existsSync(join(dir, 'node_modules'))) {
    const lock = (root: string) => readFileSync(join(root, 'package-lock.json'), 'utf8');
    if (lock(dir) === lock(HERE)) {
      // Workspace packages are relative links (node_modules/@sesame/x -> ../../packages/x): they point into A.
      say('linking node_modules (same package lock)');
      execFileSync('cp', ['-al', join(HERE, 'node_modules'), join(dir, 'node_modules')]);
    } else {
      say('installing node_modules (npm ci: the package lock differs)');
      execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], {
        cwd: dir,
        stdio: 'inherit',
      });
    }
  }
  return { dir, label: `${spec} (${commit.slice(0, 12)})` };
}

type Harness = typeof import('../test/e2e/harness.ts');
type Variant = {
  name: 'A' | 'B';
  label: string;
  session(title: string): PtyClient;
  stop(): Promise<void>;
};

/** A server and an agent started from the checkout in `dir`, with its own harness and its own CLI. */
async function startVariant(name: 'A' | 'B', dir: string, label: string): Promise<Variant> {
  const harness = (await import(pathToFileURL(join(dir, 'test/e2e/harness.ts')).href)) as Harness;
  const sesame = await harness.startSesame();
  try {
    const { identity, instanceId } = await sesame.registerAgent('bench');
    sesame.startAgent(identity);
    await sesame.waitForStatus(instanceId, 'Online');
  } catch (error) {
    await sesame.stop();
    throw error;
  }
  const command: ClientCommand = {
    file: process.execPath,
    args: [harness.bins.cli, 'ssh', 'bench'],
    env: { SESAME_HOME: sesame.home('admin') },
  };
  return { name, label, session: (title) => new PtyClient(title, command), stop: () => sesame.stop() };
}

/** One session of `client`: its prompt, then the echo of `count` keys after `skip`; closed afterwards. */
async function measure(client: PtyClient, count: number, skip: number): Promise<number[]> {
  try {
    await prepareShell(client);
    return await echoLatency(client, count, skip);
  } finally {
    await client.close();
  }
}

/** Two-sided sign test: the chance of a split at least this uneven of `n` rounds if neither version were faster. */
function signTest(wins: number, n: number): number {
  const extreme = Math.min(wins, n - wins);
  let tail = 0;
  let choose = 1;
  for (let k = 0; k <= extreme; k++) {
    tail += choose;
    choose = (choose * (n - k)) / (k + 1);
  }
  return Math.min(1, (2 * tail) / 2 ** n);
}

async function main(): Promise<void> {
  const spec = process.argv[2];
  if (!spec || spec === '--help') {
    say(
      'usage: npm run bench:ab -- <git revision | Sesame checkout directory>   (compares this checkout with it)',
    );
    process.exitCode = spec ? 0 : 2;
    return;
  }
  const a = checkoutOf(spec);
  const loadAtStart = loadAverage();
  const sshd = await startSshd();
  const variants: Variant[] = [];
  try {
    variants.push(await startVariant('A', a.dir, a.label));
    variants.push(await startVariant('B', HERE, `this checkout (${git(['rev-parse', '--short', 'HEAD'])})`));
    for (const v of variants) say(`${v.name}: ${v.label}`);
    const perSession = Math.ceil(serverWarmup / warmupSessions);
    say(`warming both servers and agents: ${warmupSessions} sessions of ${perSession} keys each`);
    for (let i = 0; i < warmupSessions; i++)
      for (const v of variants) await measure(v.session(`${v.name} warm-up ${i + 1}`), perSession, 0);

    const p50 = { A: [] as number[], B: [] as number[], openssh: [] as number[] };
    say(`\n${rounds} rounds, a new client each: p50 of ${keys} keys after ${warmup}, µs`);
    say('round  order        A      B  OpenSSH');
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? ['A', 'B', 'openssh'] : ['openssh', 'B', 'A'];
      for (const who of order as (keyof typeof p50)[]) {
        const client =
          who === 'openssh'
            ? new PtyClient(`OpenSSH ${round}`, sshd.client)
            : (variants.find((v) => v.name === who) as Variant).session(`${who} ${round}`);
        p50[who].push(summarize(await measure(client, keys, warmup)).p50);
      }
      const at = round - 1;
      const cell = (v: number | undefined) => String(Math.round(v ?? Number.NaN)).padStart(6);
      say(
        `${String(round).padStart(5)}  ${order.map((o) => (o === 'openssh' ? 'S' : o)).join('')}     ${cell(p50.A[at])} ${cell(p50.B[at])} ${cell(p50.openssh[at]).padStart(8)}`,
      );
    }

    const faster = p50.B.filter((b, i) => b < (p50.A[i] as number)).length;
    const ssh = median(p50.openssh);
    const summary = {
      A: { label: variants[0]?.label, medianP50: median(p50.A), toOpenSsh: median(p50.A) / ssh },
      B: { label: variants[1]?.label, medianP50: median(p50.B), toOpenSsh: median(p50.B) / ssh },
      openssh: { medianP50: ssh },
      bFasterInRounds: faster,
      rounds,
      signTestP: signTest(faster, rounds),
    };
    const us = (v: number) => `${Math.round(v)} µs`;
    say(`\nA  ${us(summary.A.medianP50)}  ${summary.A.toOpenSsh.toFixed(2)}x of OpenSSH   ${a.label}`);
    say(`B  ${us(summary.B.medianP50)}  ${summary.B.toOpenSsh.toFixed(2)}x of OpenSSH   ${summary.B.label}`);
    say(`OpenSSH  ${us(ssh)}`);
    say(
      `B - A: ${us(summary.B.medianP50 - summary.A.medianP50)}; B was faster in ${faster} of ${rounds} rounds (sign test p = ${summary.signTestP.toFixed(3)})`,
    );
    say(`load average at the start: ${loadAtStart.toFixed(2)}, at the end: ${loadAverage().toFixed(2)}`);
    mkdirSync(OUT, { recursive: true });
    const results = { startedAt: new Date().toISOString(), keys, warmup, serverWarmup, p50, summary };
    writeFileSync(join(OUT, 'ab-results.json'), `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    for (const v of variants) await v.stop();
    await sshd.stop();
  }
}

main().catch((error: Error) => {
  process.stderr.write(`bench:ab: ${error.stack ?? error.message}\n`);
  process.exitCode = 1;
});
