/**
 * The printed table: each metric for OpenSSH and Sesame measured in the same run, their ratio, the target
 * from the issue and whether it is met. OpenSSH through a jump host (the bastion set-up Sesame replaces, with
 * the same number of hops) and the bare Node relay (Sesame's three Node processes doing nothing but piping
 * bytes: the floor of that shape in Node) are shown with Sesame's ratio to each, and a local PTY (no network,
 * no relay) as the ceiling.
 */
import type { Summary } from './measure.ts';
import type { GcCounts } from './targets.ts';

type PerTarget<T> = Record<'openssh' | 'jump' | 'sesame' | 'relay' | 'local', T>;

export type TargetThroughput = {
  runs: number[];
  median: number;
  /** Bytes the client's terminal received in the first run (file + line ends as the terminal got them). */
  terminalBytes: number;
  /** CPU time of the relaying processes (client and server side) per MB delivered, all runs. */
  relayCpuMsPerMB: number;
  relayCpuMsPerMBByProcess: Record<string, number>;
};

export type Results = {
  startedAt: string;
  durationSeconds: number;
  machine: {
    cores: number;
    cpu: string;
    node: string;
    ssh: string;
    platform: string;
    loadAverageAtStart: number;
  };
  settings: {
    keys: number;
    warmup: number;
    serverWarmup: number;
    warmupSessions: number;
    paceMs: number;
    paceKeys: number;
    dataMegabytes: number;
    runs: number;
  };
  /** Echo through the first session on a just-started server and agent (before their code is warm). */
  sesameFirstSessionEchoMicros: Summary;
  /**
   * The Sesame server's garbage collections during each of its throughput runs (bench/gc-count.mjs): full ones
   * stop and scan the whole heap, so a run with many shows in the server's CPU per MB.
   */
  sesameServerGcPerThroughputRun: GcCounts[];
  /** Echo through the bare Node relay's first client, on the just-started relay and agent. */
  relayFirstClientEchoMicros: Summary;
  echoMicros: PerTarget<Summary>;
  /**
   * Echo through the same clients after Sesame's and the bare relay's typed BENCH_SERVER_WARMUP more keys (a
   * session in use), all targets in one block; absent when BENCH_SERVER_WARMUP is 0. For information.
   */
  echoInUseMicros?: PerTarget<Summary>;
  /**
   * Echo with a pause of settings.paceMs before each key (typing pace: every process on the path idle in
   * between), the same clients right after the measured blocks; absent when BENCH_PACE_MS is 0. For information.
   */
  echoAtPaceMicros?: PerTarget<Summary>;
  throughputMBps: PerTarget<TargetThroughput>;
  targets: { name: string; ratio: number; target: string; met: boolean }[];
};

export function targetsOf(r: Pick<Results, 'echoMicros' | 'throughputMBps'>): Results['targets'] {
  const echo = r.echoMicros.sesame.p50 / r.echoMicros.openssh.p50;
  const put = r.throughputMBps.sesame.median / r.throughputMBps.openssh.median;
  return [
    { name: 'echo p50', ratio: echo, target: '<= 1.5x', met: echo <= 1.5 },
    { name: 'output throughput (recording on)', ratio: put, target: '>= 0.8x', met: put >= 0.8 },
  ];
}

/** `goal` names the entry of Results.targets that this row is judged by. */
type Row = { metric: string; values: PerTarget<number | undefined>; unit: string; goal?: string };

function rows(r: Results): Row[] {
  const e = r.echoMicros;
  const t = r.throughputMBps;
  const echo = (key: keyof Summary) => ({
    openssh: e.openssh[key],
    jump: e.jump[key],
    sesame: e.sesame[key],
    relay: e.relay[key],
    local: e.local[key],
  });
  return [
    { metric: 'echo p50', values: echo('p50'), unit: 'us', goal: 'echo p50' },
    {
      metric: 'echo p50, fresh server',
      values: {
        ...echo('p50'),
        sesame: r.sesameFirstSessionEchoMicros.p50,
        relay: r.relayFirstClientEchoMicros.p50,
      },
      unit: 'us',
    },
    ...(r.echoInUseMicros
      ? [{ metric: 'echo p50, session in use', values: p50s(r.echoInUseMicros), unit: 'us' }]
      : []),
    ...(r.echoAtPaceMicros
      ? [
          {
            metric: `echo p50, typing pace (${r.settings.paceMs} ms)`,
            values: p50s(r.echoAtPaceMicros),
            unit: 'us',
          },
        ]
      : []),
    { metric: 'echo p99', values: echo('p99'), unit: 'us' },
    { metric: 'echo mean', values: echo('mean'), unit: 'us' },
    {
      metric: 'output throughput (median)',
      values: {
        openssh: t.openssh.median,
        jump: t.jump.median,
        sesame: t.sesame.median,
        relay: t.relay.median,
        local: t.local.median,
      },
      unit: 'MB/s',
      goal: 'output throughput (recording on)',
    },
    {
      metric: 'relay CPU per MB',
      values: {
        openssh: t.openssh.relayCpuMsPerMB,
        jump: t.jump.relayCpuMsPerMB,
        sesame: t.sesame.relayCpuMsPerMB,
        relay: t.relay.relayCpuMsPerMB,
        local: undefined,
      },
      unit: 'ms',
    },
  ];
}

function p50s(s: PerTarget<Summary>): PerTarget<number> {
  return {
    openssh: s.openssh.p50,
    jump: s.jump.p50,
    sesame: s.sesame.p50,
    relay: s.relay.p50,
    local: s.local.p50,
  };
}

function fmt(value: number | undefined, unit: string): string {
  if (value === undefined) return '-';
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${unit}`;
}

export function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

function byProcess(t: TargetThroughput): string {
  return Object.entries(t.relayCpuMsPerMBByProcess)
    .map(([label, ms]) => `${label} ${ms.toFixed(1)}`)
    .join(', ');
}

function notes(r: Results): string[] {
  const t = r.throughputMBps;
  const m = r.machine;
  const e = r.echoMicros;
  const shape = (s: PerTarget<Summary>) => (s.jump.p50 / s.openssh.p50).toFixed(2);
  const out = [
    `the same three-process shape in OpenSSH (via a jump host) against OpenSSH direct, echo p50: ${shape(e)}x` +
      `${r.echoInUseMicros ? `; session in use ${shape(r.echoInUseMicros)}x` : ''}` +
      `${r.echoAtPaceMicros ? `; typing pace ${shape(r.echoAtPaceMicros)}x` : ''}`,
    `throughput runs (MB/s): OpenSSH [${t.openssh.runs.map((v) => v.toFixed(1)).join(', ')}], ` +
      `via a jump host [${t.jump.runs.map((v) => v.toFixed(1)).join(', ')}], ` +
      `Sesame [${t.sesame.runs.map((v) => v.toFixed(1)).join(', ')}], ` +
      `bare Node relay [${t.relay.runs.map((v) => v.toFixed(1)).join(', ')}], ` +
      `local PTY [${t.local.runs.map((v) => v.toFixed(1)).join(', ')}]`,
    `relay CPU ms per MB: OpenSSH (${byProcess(t.openssh)}); via a jump host (${byProcess(t.jump)}); ` +
      `Sesame (${byProcess(t.sesame)}); bare Node relay (${byProcess(t.relay)})`,
    `Sesame server garbage collections per throughput run: full [${r.sesameServerGcPerThroughputRun
      .map((g) => `${g.full} (${g.fullMs.toFixed(0)} ms)`)
      .join(', ')}], young [${r.sesameServerGcPerThroughputRun.map((g) => g.young).join(', ')}]`,
  ];
  if (t.sesame.terminalBytes !== t.openssh.terminalBytes)
    out.push(
      `note: for the same file the terminal received ${t.sesame.terminalBytes} bytes through Sesame and ` +
        `${t.openssh.terminalBytes} through OpenSSH (line ends translated differently by the client's tty)`,
    );
  if (m.loadAverageAtStart > m.cores / 2)
    out.push(
      `warning: the load average was ${m.loadAverageAtStart.toFixed(2)} at the start on ${m.cores} cores; ` +
        'other work on this machine skews these numbers (both sides alike, but not equally)',
    );
  return out;
}

export function render(r: Results): string {
  const m = r.machine;
  const s = r.settings;
  const body = rows(r).map((row) => {
    const { openssh, jump, sesame, relay, local } = row.values;
    const ratio = (sesame ?? 0) / (openssh ?? 1);
    const toJump = (sesame ?? 0) / (jump ?? 1);
    const toRelay = (sesame ?? 0) / (relay ?? 1);
    const goal = r.targets.find((t) => t.name === row.goal);
    const met = goal ? (goal.met ? 'MET' : 'MISSED') : '';
    return [
      row.metric,
      fmt(openssh, row.unit),
      fmt(sesame, row.unit),
      `${ratio.toFixed(2)}x`,
      goal?.target ?? '',
      met,
      fmt(jump, row.unit),
      `${toJump.toFixed(2)}x`,
      fmt(relay, row.unit),
      `${toRelay.toFixed(2)}x`,
      fmt(local, row.unit),
    ];
  });
  return [
    '',
    'Sesame vs OpenSSH (same machine, same run, loopback)',
    `machine: ${m.cores} cores, ${m.cpu}, ${m.platform}; node ${m.node}; ${m.ssh}; ` +
      `load average at start ${m.loadAverageAtStart.toFixed(2)}`,
    `echo: ${s.keys} keystrokes after ${s.warmup} warm-up, one at a time, by a new sesame ssh to a server and ` +
      `agent that ran ${s.serverWarmup} keys in ${s.warmupSessions} sessions before (the "fresh server" row: the first session, on a just-started ` +
      'server and agent; "typing pace": the same clients, a pause before each key; ' +
      '"session in use": the same clients, measured again after as many keys as the warm-up); ' +
      `throughput: cat of ${s.dataMegabytes} MB, ${s.runs} runs, median`,
    'Sesame records every session (asciicast); OpenSSH is ssh -tt to a private sshd on 127.0.0.1; the jump',
    'host column is ssh -tt through that sshd as a jump host (ssh -J) to itself: the bastion Sesame replaces;',
    'the bare Node relay is three Node processes (client, relay, agent with the PTY) piping raw bytes over',
    'loopback TCP with no TLS, WebSocket, framing, flow control or recording: the floor of that shape in Node',
    '',
    table(
      [
        'metric',
        'OpenSSH',
        'Sesame',
        'ratio',
        'target',
        'met?',
        'OpenSSH via jump host',
        'Sesame/jump',
        'bare Node relay',
        'Sesame/relay',
        'local PTY (ceiling)',
      ],
      body,
    ),
    '',
    ...notes(r),
    ...r.targets.map(
      (t) =>
        `${t.met ? 'MET   ' : 'MISSED'}  ${t.name}: Sesame/OpenSSH = ${t.ratio.toFixed(2)}x (target ${t.target})`,
    ),
    `finished in ${r.durationSeconds.toFixed(0)} s`,
    '',
  ].join('\n');
}
