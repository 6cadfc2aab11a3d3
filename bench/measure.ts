/**
 * The measurements, the same for every target: a shell behind some terminal client in a PTY.
 * - echo latency: the remote tty echoes each keystroke itself (`stty -icanon; cat > /dev/null`); one key
 *   at a time, the next only after the echo of the previous one came back.
 * - output throughput: `cat` of a large text file, timed from the command to the marker after it.
 */

import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { cpuDelta, cpuSeconds } from './process-cpu.ts';
import type { PtyClient } from './pty-client.ts';

/** An integer setting from the environment (`name`), at least `min`, else `fallback`; anything else is an error. */
export function setting(name: string, fallback: number, min = 1): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}`);
  return value;
}

export type Summary = { p50: number; p99: number; mean: number; n: number };

let markers = 0;
/** A marker to `echo`: the shell prints `__NAME_n__`, its echoed command line shows `__NA''ME_n__`. */
function marker(name: string): { shown: string; typed: string } {
  markers += 1;
  const shown = `__${name}_${markers}__`;
  return { shown, typed: `__${name.slice(0, 2)}''${name.slice(2)}_${markers}__` };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] as number;
}

export function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean, n: values.length };
}

export function median(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** Waits for the login shell, then gives it a plain prompt and no control-character echo. */
export async function prepareShell(client: PtyClient): Promise<void> {
  await client.settle();
  const ready = marker('READY');
  await client.expect(
    ready.shown,
    `unset PROMPT_COMMAND; PS1='P> '; stty -echoctl; echo ${ready.typed}\r`,
    20_000,
  );
  await client.settle(200);
}

/**
 * Per-keystroke round trips in microseconds, after `warmup` unmeasured ones. With `pauseMs`, each key waits that
 * long after the previous echo (typing pace: every process on the path has gone idle in between).
 */
export async function echoLatency(
  client: PtyClient,
  keys: number,
  warmup: number,
  pauseMs = 0,
): Promise<number[]> {
  const ready = marker('CAT');
  await client.expect(ready.shown, `stty -icanon; echo ${ready.typed}; cat > /dev/null\r`);
  await client.settle(150);
  const samples: number[] = [];
  for (let i = 0; i < warmup + keys; i++) {
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    const micros = await client.roundTrip(String.fromCharCode(97 + (i % 26)));
    if (i >= warmup) samples.push(micros);
  }
  const back = marker('BACK');
  await client.expect('P> ', '\x03');
  await client.expect(back.shown, `stty icanon; echo ${back.typed}\r`);
  await client.settle(150);
  return samples;
}

/**
 * Megabytes (10^6 bytes) of `file` per second through the terminal, the bytes the PTY delivered and the
 * share of one core this benchmark process used meanwhile (to show it is not the bottleneck).
 */
export type Throughput = {
  mbPerSec: number;
  seconds: number;
  ptyBytes: number;
  benchCpuShare: number;
  /** CPU seconds each relaying process used meanwhile. */
  relayCpuSeconds: Record<string, number>;
};

export async function outputThroughput(
  client: PtyClient,
  file: string,
  timeoutMs: number,
  relay: () => Record<string, number[]> = () => ({}),
): Promise<Throughput> {
  const size = statSync(file).size;
  const processes = relay();
  const relayBefore = cpuSeconds(processes);
  const done = marker('DONE');
  const before = client.bytes;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await client.expect(done.shown, `cat ${file}; echo ${done.typed}\r`, timeoutMs);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  const relayCpuSeconds = cpuDelta(relayBefore, cpuSeconds(processes));
  const benchCpuShare = (used.user + used.system) / 1e6 / seconds;
  await client.settle(200);
  const ptyBytes = client.bytes - before;
  return { mbPerSec: size / 1e6 / seconds, seconds, ptyBytes, benchCpuShare, relayCpuSeconds };
}

/**
 * A file of base64 text lines (76 characters, like MIME) that every local user can read, made once and
 * reused while its size is right.
 */
export async function ensureDataFile(dir: string, megabytes: number): Promise<string> {
  const file = join(dir, `data-${megabytes}mb.txt`);
  const bytes = megabytes * 1_000_000;
  if (existsSync(file) && statSync(file).size === bytes) return file;
  mkdirSync(dir, { recursive: true });
  await chmod(dir, 0o755);
  const out = createWriteStream(file, { mode: 0o644 });
  const line = 77;
  let written = 0;
  while (written < bytes) {
    const lines = Math.min(8192, Math.ceil((bytes - written) / line));
    const text = randomBytes(lines * 57).toString('base64');
    let block = '';
    for (let i = 0; i < lines; i++) block += `${text.slice(i * 76, i * 76 + 76)}\n`;
    const chunk = block.slice(0, bytes - written);
    written += chunk.length;
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  await chmod(file, 0o644);
  return file;
}
