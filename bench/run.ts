/**
 * `npm run bench`: keystroke echo latency and shell output throughput through Sesame (recording on)
 * against `ssh -tt` to a private OpenSSH sshd, measured alternately in one run; prints the ratios and
 * writes bench/out/results.json. Then, in this process and without sshd: policy evaluation
 * (policy-bench.ts) and the instance list with 100,000 instances (instance-list-bench.ts), written to
 * bench/out/policy-results.json. A measurement, not a test: it exits 0 when a target is missed.
 *
 * Settings (environment): BENCH_ONLY (ssh, decisions, list, or policy = decisions and list; comma-separated;
 * default all), BENCH_KEYS (300), BENCH_WARMUP (20), BENCH_SERVER_WARMUP (5000),
 * BENCH_WARMUP_SESSIONS (5: the sessions those keys are spread over), BENCH_PACE_MS (100: the pause before each
 * key of the typing-pace row; 0 = no such row), BENCH_PACE_KEYS (100), BENCH_DATA_MB (200), BENCH_RUNS (5),
 * BENCH_CPU_PROF=dir (server, agent and CLI write V8 CPU profiles there; see cpu-profile.mjs),
 * BENCH_POLICY_SAMPLES (100000), BENCH_INSTANCES (100000), BENCH_LIST_RUNS (5).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { renderInstanceList, runInstanceListBench } from './instance-list-bench.ts';
import {
  echoLatency,
  ensureDataFile,
  median,
  outputThroughput,
  prepareShell,
  setting,
  summarize,
  type Throughput,
} from './measure.ts';
import { renderPolicy, runPolicyBench } from './policy-bench.ts';
import { loadAverage } from './process-cpu.ts';
import { type Results, render, type TargetThroughput, targetsOf } from './report.ts';
import { sshVersion } from './sshd.ts';
import { type GcCounts, startTargets, TARGETS, type Target } from './targets.ts';

const keys = setting('BENCH_KEYS', 300);
const warmup = setting('BENCH_WARMUP', 20);
const dataMegabytes = setting('BENCH_DATA_MB', 200);
const runs = setting('BENCH_RUNS', 5);
const serverWarmup = setting('BENCH_SERVER_WARMUP', 5000, 0);
const warmupSessions = setting('BENCH_WARMUP_SESSIONS', 5);
const paceMs = setting('BENCH_PACE_MS', 100, 0);
const paceKeys = setting('BENCH_PACE_KEYS', 100);
const profileDir = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
const policySamples = setting('BENCH_POLICY_SAMPLES', 100_000);
const instances = setting('BENCH_INSTANCES', 100_000);
const listRuns = setting('BENCH_LIST_RUNS', 5);
const DATA_DIR = '/tmp/sesame-bench-data';
const ECHO_BLOCKS = 3;
const THROUGHPUT_TIMEOUT_MS = 90_000;
const SSH_TIMEOUT_MS = 5 * 60_000;
const POLICY_TIMEOUT_MS = 4 * 60_000;

const SECTIONS = ['ssh', 'decisions', 'list'] as const;
type Section = (typeof SECTIONS)[number];
function sections(value: string | undefined): Set<Section> {
  if (!value) return new Set(SECTIONS);
  const chosen = new Set<Section>();
  for (const name of value.split(',').map((v) => v.trim())) {
    if (name === 'policy') {
      chosen.add('decisions');
      chosen.add('list');
    } else if ((SECTIONS as readonly string[]).includes(name)) chosen.add(name as Section);
    else throw new Error(`BENCH_ONLY: unknown part "${name}" (ssh, decisions, list, policy)`);
  }
  return chosen;
}
const only = sections(process.env.BENCH_ONLY);
const OVERALL_TIMEOUT_MS =
  (only.has('ssh') ? SSH_TIMEOUT_MS : 0) +
  (only.has('decisions') || only.has('list') ? POLICY_TIMEOUT_MS : 0);
const OUT = join(import.meta.dirname, 'out');

const say = (text: string) => process.stdout.write(`${text}\n`);

/** One value per target. */
const perTarget = <T>(value: (target: Target) => T) =>
  Object.fromEntries(TARGETS.map((t) => [t, value(t)])) as Record<Target, T>;

/** Alternates the order of the targets from one round to the next, to spread drift over all of them. */
const order = (round: number): Target[] => (round % 2 === 0 ? [...TARGETS] : [...TARGETS].reverse());

function throughputOf(results: Throughput[]): TargetThroughput {
  const megabytes = runs * dataMegabytes;
  const byProcess: Record<string, number> = {};
  for (const r of results)
    for (const [label, seconds] of Object.entries(r.relayCpuSeconds))
      byProcess[label] = (byProcess[label] ?? 0) + (seconds * 1000) / megabytes;
  return {
    runs: results.map((r) => r.mbPerSec),
    median: median(results.map((r) => r.mbPerSec)),
    terminalBytes: results[0]?.ptyBytes ?? 0,
    relayCpuMsPerMB: Object.values(byProcess).reduce((a, b) => a + b, 0),
    relayCpuMsPerMBByProcess: byProcess,
  };
}

/** Garbage collections between two readings, pause times rounded to 0.1 ms. */
function gcDelta(before: GcCounts, after: GcCounts): GcCounts {
  const ms = (v: number) => Math.round(v * 10) / 10;
  return {
    full: after.full - before.full,
    young: after.young - before.young,
    fullMs: ms(after.fullMs - before.fullMs),
    youngMs: ms(after.youngMs - before.youngMs),
  };
}

let cleanup: (() => Promise<void>) | undefined;

async function main(): Promise<void> {
  // Taken before anything runs: after the OpenSSH comparison the load average still counts its own work.
  const loadAtStart = loadAverage();
  if (only.has('ssh')) await sshComparison();
  if (only.has('decisions') || only.has('list')) await policyBenches(loadAtStart);
}

/** Policy evaluation and the instance list: in this process, no sshd, after the OpenSSH comparison. */
async function policyBenches(loadAtStart: number): Promise<void> {
  const startedAt = new Date();
  const policy = only.has('decisions') ? runPolicyBench({ samples: policySamples, say }) : undefined;
  if (policy) say(renderPolicy(policy));
  const instanceList = only.has('list')
    ? await runInstanceListBench({
        instances,
        runs: listRuns,
        say,
        track: (stop) => {
          cleanup = stop;
        },
      })
    : undefined;
  if (instanceList) say(renderInstanceList(instanceList));
  const results = {
    startedAt: startedAt.toISOString(),
    machine: {
      cores: cpus().length,
      cpu: cpus()[0]?.model ?? 'unknown cpu',
      node: process.version,
      loadAverageAtStart: loadAtStart,
    },
    policyEvaluation: policy,
    instanceList,
  };
  if (loadAtStart > cpus().length / 2)
    say(
      `warning: the load average was ${loadAtStart.toFixed(2)} at the start of the bench on ${cpus().length} ` +
        'cores; other work on this machine skews these numbers',
    );
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'policy-results.json'), `${JSON.stringify(results, null, 2)}\n`);
  say(`results written to ${join(OUT, 'policy-results.json')}`);
}

async function sshComparison(): Promise<void> {
  const startedAt = new Date();
  const loadAtStart = loadAverage();
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  say(`preparing ${dataMegabytes} MB of text in ${DATA_DIR} ...`);
  const file = await ensureDataFile(DATA_DIR, dataMegabytes);
  say('starting a private sshd, a Sesame server and agent ...');
  const { clients, relay, sesameSession, newSesameClient, newRelayClient, serverGc, stop } =
    await startTargets(profileDir);
  cleanup = stop;
  try {
    for (const target of TARGETS) await prepareShell(clients[target]);

    // A control plane in use has run code hot for a while, over many sessions; a just-started one has not (V8
    // compiles a function to fast code only after many calls, and specializes it to the objects it saw: the
    // next sessions' objects undo part of that, see bench/README.md). The first session on the fresh server and
    // agent is measured apart; then BENCH_SERVER_WARMUP keys are typed over BENCH_WARMUP_SESSIONS sessions, the
    // first one included; the measured Sesame client is another, fresh CLI process.
    say(
      `echo latency, the first session on the fresh Sesame server (and the bare Node relay's first client), ` +
        `then ${serverWarmup} keys over ${warmupSessions} sessions to warm them ...`,
    );
    const perSession = Math.ceil(serverWarmup / warmupSessions);
    const firstSession = summarize(await echoLatency(clients.sesame, keys, warmup));
    for (let session = 0; session < warmupSessions && serverWarmup > 0; session++) {
      const client = session === 0 ? clients.sesame : sesameSession(`Sesame, warm-up session ${session + 1}`);
      if (session > 0) await prepareShell(client);
      await echoLatency(client, perSession, 0);
      await client.close();
    }
    // The measured session starts on the warm server (one opened before the warm-up would keep objects made by
    // the cold server).
    await prepareShell(await newSesameClient('Sesame'));
    // The bare Node relay the same way: its first client on the fresh relay and agent, then new clients.
    const firstRelayClient = summarize(await echoLatency(clients.relay, keys, warmup));
    for (let session = 0; session < warmupSessions && serverWarmup > 0; session++) {
      if (session > 0)
        await prepareShell(await newRelayClient(`bare Node relay, warm-up client ${session + 1}`));
      await echoLatency(clients.relay, perSession, 0);
    }
    await prepareShell(await newRelayClient('bare Node relay'));

    const echo = perTarget((): number[] => []);
    const perBlock = Math.ceil(keys / ECHO_BLOCKS);
    for (let block = 0; block < ECHO_BLOCKS; block++) {
      say(`echo latency, block ${block + 1}/${ECHO_BLOCKS} ...`);
      for (const target of order(block)) {
        const n = Math.min(perBlock, keys - block * perBlock);
        const warm = block === 0 ? warmup : Math.min(5, warmup);
        echo[target].push(...(await echoLatency(clients[target], n, warm)));
      }
    }

    // For information: every target at typing pace (a pause before each key, so every process on the path has gone
    // idle, as between a person's keystrokes), the same clients right after the blocks above.
    let echoAtPace: Results['echoAtPaceMicros'];
    if (paceMs > 0) {
      say(`echo latency at typing pace (${paceKeys} keys, a ${paceMs} ms pause before each) ...`);
      const paced = perTarget((): number[] => []);
      for (const target of TARGETS)
        paced[target] = await echoLatency(clients[target], paceKeys, Math.min(5, warmup), paceMs);
      echoAtPace = perTarget((t) => summarize(paced[t]));
    }

    // For information: the same clients once Sesame's and the bare relay's have typed as many keys again (a
    // session in use: the new CLI's own code warm too), every target measured in one more block.
    let echoInUse: Results['echoInUseMicros'];
    if (serverWarmup > 0) {
      say(`echo latency, the same clients after ${serverWarmup} more keys ...`);
      await echoLatency(clients.sesame, serverWarmup, 0);
      await echoLatency(clients.relay, serverWarmup, 0);
      const inUse = perTarget((): number[] => []);
      for (const target of TARGETS) inUse[target] = await echoLatency(clients[target], keys, warmup);
      echoInUse = perTarget((t) => summarize(inUse[t]));
    }

    const put = perTarget((): Throughput[] => []);
    const serverGcPerRun: GcCounts[] = [];
    for (let run = 0; run < runs; run++) {
      for (const target of order(run)) {
        const gcBefore = target === 'sesame' ? await serverGc() : undefined;
        const result = await outputThroughput(clients[target], file, THROUGHPUT_TIMEOUT_MS, relay[target]);
        const gc = gcBefore && gcDelta(gcBefore, await serverGc());
        if (gc) serverGcPerRun.push(gc);
        const share = (result.benchCpuShare * 100).toFixed(0);
        say(
          `throughput run ${run + 1}/${runs}, ${target}: ${result.mbPerSec.toFixed(1)} MB/s ` +
            `(${result.seconds.toFixed(1)} s; the benchmark's own reader used ${share}% of a core` +
            `${gc ? `; the server ran ${gc.full} full and ${gc.young} young garbage collections` : ''})`,
        );
        put[target].push(result);
      }
    }

    const partial = {
      echoMicros: perTarget((t) => summarize(echo[t])),
      throughputMBps: perTarget((t) => throughputOf(put[t])),
    };
    const results: Results = {
      startedAt: startedAt.toISOString(),
      sesameFirstSessionEchoMicros: firstSession,
      sesameServerGcPerThroughputRun: serverGcPerRun,
      relayFirstClientEchoMicros: firstRelayClient,
      ...(echoInUse ? { echoInUseMicros: echoInUse } : {}),
      ...(echoAtPace ? { echoAtPaceMicros: echoAtPace } : {}),
      durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
      machine: {
        cores: cpus().length,
        cpu: cpus()[0]?.model ?? 'unknown cpu',
        node: process.version,
        ssh: sshVersion(),
        platform: `${process.platform} ${process.arch}`,
        loadAverageAtStart: loadAtStart,
      },
      settings: { keys, warmup, serverWarmup, warmupSessions, paceMs, paceKeys, dataMegabytes, runs },
      ...partial,
      targets: targetsOf(partial),
    };
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    say(render(results));
    say(`results written to ${join(OUT, 'results.json')}`);
  } finally {
    cleanup = undefined;
    await stop();
  }
}

const watchdog = setTimeout(async () => {
  process.stderr.write(`bench: gave up after ${OVERALL_TIMEOUT_MS / 1000} s; stopping what it started\n`);
  await Promise.race([cleanup?.(), new Promise((r) => setTimeout(r, 10_000))]).catch(() => {});
  process.exit(1);
}, OVERALL_TIMEOUT_MS);
watchdog.unref();

main().then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`bench failed: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
