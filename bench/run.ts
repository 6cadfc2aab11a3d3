/**
 * `npm run bench`: keystroke echo latency and shell output throughput through Sesame (recording on)
 * against `ssh -tt` to a private OpenSSH sshd, measured alternately in one run; prints the ratios and
 * writes bench/out/results.json. A measurement, not a test: it exits 0 when a target is missed.
 *
 * Settings (environment): BENCH_KEYS (300), BENCH_WARMUP (20), BENCH_DATA_MB (200), BENCH_RUNS (3),
 * BENCH_CPU_PROF=dir (server, agent and CLI write V8 CPU profiles there; see cpu-profile.mjs).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import {
  echoLatency,
  ensureDataFile,
  median,
  outputThroughput,
  prepareShell,
  summarize,
  type Throughput,
} from './measure.ts';
import { loadAverage } from './process-cpu.ts';
import { type Results, render, type TargetThroughput, targetsOf } from './report.ts';
import { sshVersion } from './sshd.ts';
import { startTargets, TARGETS, type Target } from './targets.ts';

const setting = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
};
const keys = setting('BENCH_KEYS', 300);
const warmup = setting('BENCH_WARMUP', 20);
const dataMegabytes = setting('BENCH_DATA_MB', 200);
const runs = setting('BENCH_RUNS', 3);
const profileDir = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
const DATA_DIR = '/tmp/sesame-bench-data';
const ECHO_BLOCKS = 3;
const THROUGHPUT_TIMEOUT_MS = 90_000;
const OVERALL_TIMEOUT_MS = 5 * 60_000;

const say = (text: string) => process.stdout.write(`${text}\n`);

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

let cleanup: (() => Promise<void>) | undefined;

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAtStart = loadAverage();
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  say(`preparing ${dataMegabytes} MB of text in ${DATA_DIR} ...`);
  const file = await ensureDataFile(DATA_DIR, dataMegabytes);
  say('starting a private sshd, a Sesame server and agent ...');
  const { clients, relay, stop } = await startTargets(profileDir);
  cleanup = stop;
  try {
    for (const target of TARGETS) await prepareShell(clients[target]);

    const echo: Record<Target, number[]> = { openssh: [], sesame: [], local: [] };
    const perBlock = Math.ceil(keys / ECHO_BLOCKS);
    for (let block = 0; block < ECHO_BLOCKS; block++) {
      say(`echo latency, block ${block + 1}/${ECHO_BLOCKS} ...`);
      for (const target of order(block)) {
        const n = Math.min(perBlock, keys - block * perBlock);
        const warm = block === 0 ? warmup : Math.min(5, warmup);
        echo[target].push(...(await echoLatency(clients[target], n, warm)));
      }
    }

    const put: Record<Target, Throughput[]> = { openssh: [], sesame: [], local: [] };
    for (let run = 0; run < runs; run++) {
      for (const target of order(run)) {
        const result = await outputThroughput(clients[target], file, THROUGHPUT_TIMEOUT_MS, relay[target]);
        const share = (result.benchCpuShare * 100).toFixed(0);
        say(
          `throughput run ${run + 1}/${runs}, ${target}: ${result.mbPerSec.toFixed(1)} MB/s ` +
            `(${result.seconds.toFixed(1)} s; the benchmark's own reader used ${share}% of a core)`,
        );
        put[target].push(result);
      }
    }

    const partial = {
      echoMicros: {
        openssh: summarize(echo.openssh),
        sesame: summarize(echo.sesame),
        local: summarize(echo.local),
      },
      throughputMBps: {
        openssh: throughputOf(put.openssh),
        sesame: throughputOf(put.sesame),
        local: throughputOf(put.local),
      },
    };
    const results: Results = {
      startedAt: startedAt.toISOString(),
      durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
      machine: {
        cores: cpus().length,
        cpu: cpus()[0]?.model ?? 'unknown cpu',
        node: process.version,
        ssh: sshVersion(),
        platform: `${process.platform} ${process.arch}`,
        loadAverageAtStart: loadAtStart,
      },
      settings: { keys, warmup, dataMegabytes, runs },
      ...partial,
      targets: targetsOf(partial),
    };
    const out = join(import.meta.dirname, 'out');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    say(render(results));
    say(`results written to ${join(out, 'results.json')}`);
  } finally {
    cleanup = undefined;
    await stop();
  }
}

const watchdog = setTimeout(async () => {
  process.stderr.write(`bench: gave up after ${OVERALL_TIMEOUT_MS / 1000} s; stopping sshd and Sesame\n`);
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
