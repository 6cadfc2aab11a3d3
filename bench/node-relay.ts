/**
 * The bare Node relay: Sesame's shape (client, relay in the middle, agent with the PTY: three Node processes and
 * two loopback TCP hops) with none of its work: no TLS, no WebSocket, no framing, no flow control, no recording.
 * Bytes are piped as they come. It is the floor of this architecture in Node on this machine, so the benchmark
 * can tell what Sesame itself costs from what three Node processes cost.
 *
 * `startNodeRelay()` starts the relay and the agent (a bash in a PTY, kept across clients); `client` is the
 * command of one client (one at a time: a new one takes over the shell).
 * Run as a program: `node --import tsx bench/node-relay.ts relay|agent|client [port]`.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { spawn as spawnPty } from 'node-pty';
import { stopChild } from '../test/e2e/harness.ts';

export type NodeRelay = {
  client: { file: string; args: string[] };
  relayPid: number;
  agentPid: number;
  stop(): Promise<void>;
};

const listen = (server: Server) =>
  new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );

/** Pipes the agent to one client at a time; the agent is not read while no client is there. */
async function relay(): Promise<void> {
  let agent: Socket | undefined;
  let client: Socket | undefined;
  const join = () => {
    if (!agent || !client) return;
    agent.pipe(client, { end: false });
    client.pipe(agent, { end: false });
  };
  const agents = createServer((socket) => {
    socket.setNoDelay(true);
    socket.pause();
    socket.on('close', () => process.exit(0));
    agent = socket;
    join();
  });
  const clients = createServer((socket) => {
    socket.setNoDelay(true);
    client?.destroy();
    client = socket;
    socket.on('error', () => {});
    socket.on('close', () => {
      if (client !== socket) return;
      agent?.unpipe(socket);
      agent?.pause();
      client = undefined;
    });
    join();
  });
  const [agentPort, clientPort] = await Promise.all([listen(agents), listen(clients)]);
  process.stdout.write(`ports ${agentPort} ${clientPort}\n`);
}

function agent(port: number): void {
  const socket = connect(port, '127.0.0.1', () => {
    socket.setNoDelay(true);
    const shell = spawnPty('/bin/bash', ['--noprofile', '--norc', '-i'], {
      name: 'xterm-256color',
      cols: 120,
      rows: 40,
      encoding: null,
    });
    shell.onData((data) => {
      if (!socket.write(data as unknown as Buffer)) shell.pause();
    });
    socket.on('drain', () => shell.resume());
    socket.on('data', (data) => shell.write(data));
    shell.onExit(() => process.exit(0));
  });
  socket.on('close', () => process.exit(0));
}

function client(port: number): void {
  process.stdin.setRawMode(true);
  spawnSync('stty', ['-opost'], { stdio: [process.stdin, 'ignore', 'ignore'] }); // as `sesame ssh` does
  const socket = connect(port, '127.0.0.1', () => {
    socket.setNoDelay(true);
    process.stdin.pipe(socket);
    socket.pipe(process.stdout);
  });
  socket.on('close', () => process.exit(0));
}

export async function startNodeRelay(): Promise<NodeRelay> {
  const self = import.meta.filename;
  const node = (args: string[]): ChildProcess =>
    spawn(process.execPath, ['--import', 'tsx', self, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const relayProcess = node(['relay']);
  const ports = await new Promise<string[]>((resolve, reject) => {
    let out = '';
    relayProcess.stdout?.on('data', (d) => {
      out += d;
      const found = out.match(/ports (\d+) (\d+)\n/);
      if (found) resolve([found[1] as string, found[2] as string]);
    });
    relayProcess.once('exit', (code) => reject(new Error(`the Node relay exited with ${code}`)));
  });
  const [agentPort, clientPort] = ports as [string, string];
  const agentProcess = node(['agent', agentPort]);
  return {
    client: { file: process.execPath, args: ['--import', 'tsx', self, 'client', clientPort] },
    relayPid: relayProcess.pid as number,
    agentPid: agentProcess.pid as number,
    async stop() {
      await stopChild(agentProcess);
      await stopChild(relayProcess);
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [role, port] = process.argv.slice(2);
  if (role === 'relay') await relay();
  else if (role === 'agent') agent(Number(port));
  else if (role === 'client') client(Number(port));
  else throw new Error(`node-relay: unknown role ${role} (relay, agent or client)`);
}
