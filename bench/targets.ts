/**
 * The terminals the benchmark drives, each a shell behind a client in a PTY:
 * - openssh: `ssh -tt` to a private sshd (sshd.ts), as root;
 * - jump: the same through a jump host (`ssh -J`: the bastion set-up Sesame replaces), both hops that sshd;
 * - sesame: `sesame ssh` through a temp Sesame server and agent (the e2e harness), as sesame-user, recorded;
 * - relay: the bare Node relay (node-relay.ts): Sesame's three Node processes and two hops doing nothing but
 *   piping bytes, the floor of that shape in Node;
 * - local: bash in a PTY with nothing in between (the ceiling of this machine's PTYs and of the reader).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bins, startSesame } from '../test/e2e/harness.ts';
import { startNodeRelay } from './node-relay.ts';
import { descendantsNamed } from './process-cpu.ts';
import { PtyClient } from './pty-client.ts';
import { startSshd } from './sshd.ts';

export const TARGETS = ['openssh', 'jump', 'sesame', 'relay', 'local'] as const;
export type Target = (typeof TARGETS)[number];

export type Targets = {
  clients: Record<Target, PtyClient>;
  /** The processes that relay each target's bytes (client and server side), by label. */
  relay: Record<Target, () => Record<string, number[]>>;
  /** The Sesame server's garbage collections so far (gc-count.mjs, preloaded into the server). */
  serverGc(): Promise<GcCounts>;
  /** Starts another `sesame ssh` client (a new session), closed by `stop` if still open. */
  sesameSession(name: string): PtyClient;
  /** Closes `clients.sesame` and replaces it with a new `sesame ssh` (a new session), which it returns. */
  newSesameClient(name: string): Promise<PtyClient>;
  /** Replaces the bare Node relay's client with a new process on the same shell (`clients.relay` is the new one). */
  newRelayClient(name: string): Promise<PtyClient>;
  stop(): Promise<void>;
};

/** Full collections, young ones, and the pauses of each (full: the final pause only, not incremental marking). */
export type GcCounts = { full: number; young: number; fullMs: number; youngMs: number };
type GcAnswer = GcCounts & { pid: number; asked: number };

/**
 * Asks the server for its garbage-collection counts (SIGUSR2 to gc-count.mjs) and waits for the answer: a file
 * written by that process whose `asked` has gone up since `asked`.
 */
async function askGcCounts(pid: number, file: string, asked: number): Promise<GcAnswer> {
  try {
    process.kill(pid, 'SIGUSR2');
  } catch (error) {
    throw new Error(`the Sesame server (pid ${pid}) is gone: ${(error as Error).message}`);
  }
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      const counts = JSON.parse(readFileSync(file, 'utf8')) as GcAnswer;
      if (counts.pid === pid && counts.asked > asked) return counts;
    } catch {
      // not written yet, or caught mid-write
    }
    if (Date.now() > deadline)
      throw new Error(`the Sesame server did not report its garbage collections in ${file}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * With `profileDir`, the Sesame server, agent and CLI write CPU profiles there (cpu-profile.mjs). The server
 * also counts its garbage collections (gc-count.mjs).
 */
export async function startTargets(profileDir?: string): Promise<Targets> {
  const profileEnv: Record<string, string> = profileDir
    ? {
        NODE_OPTIONS:
          `${process.env.NODE_OPTIONS ?? ''} --import ${join(import.meta.dirname, 'cpu-profile.mjs')}`.trim(),
        BENCH_CPU_PROF_DIR: profileDir,
      }
    : {};
  const sshd = await startSshd();
  const nodeRelay = await startNodeRelay().catch(async (error) => {
    await sshd.stop();
    throw error;
  });
  const gcDir = mkdtempSync(join(tmpdir(), 'sesame-bench-gc-'));
  const gcFile = join(gcDir, 'server.json');
  const serverEnv = {
    ...profileEnv,
    NODE_OPTIONS:
      `${profileEnv.NODE_OPTIONS ?? process.env.NODE_OPTIONS ?? ''} --import ${join(import.meta.dirname, 'gc-count.mjs')}`.trim(),
    BENCH_GC_FILE: gcFile,
  };
  const sesame = await startSesame(serverEnv).catch(async (error) => {
    rmSync(gcDir, { recursive: true, force: true });
    await nodeRelay.stop();
    await sshd.stop();
    throw error;
  });
  const gcAsked = { pid: 0, asked: 0 };
  const started: PtyClient[] = [];
  const stop = async () => {
    try {
      for (const client of started) await client.close();
      await sesame.stop();
    } finally {
      rmSync(gcDir, { recursive: true, force: true });
      await nodeRelay.stop();
      await sshd.stop();
    }
  };
  try {
    const { identity, instanceId } = await sesame.registerAgent('bench');
    // The harness starts the agent with this process's environment.
    const savedOptions = process.env.NODE_OPTIONS;
    Object.assign(process.env, profileEnv);
    const agent = sesame.startAgent(identity);
    if (savedOptions === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = savedOptions;
    await Promise.race([
      sesame.waitForStatus(instanceId, 'Online'),
      new Promise((_, reject) =>
        agent.child.once('exit', (code) =>
          reject(new Error(`agent exited with ${code}: ${agent.output.text}`)),
        ),
      ),
    ]);
    const add = (client: PtyClient) => {
      started.push(client);
      return client;
    };
    const sesameSession = (name: string) =>
      add(
        new PtyClient(name, {
          file: process.execPath,
          args: [bins.cli, 'ssh', 'bench'],
          env: { SESAME_HOME: sesame.home('admin'), ...profileEnv },
        }),
      );
    // The relay's shell printed its prompt before any client: a new client asks for another with Enter.
    const relayClient = (name: string) => {
      const client = add(new PtyClient(name, nodeRelay.client));
      client.write('\r');
      return client;
    };
    const clients = {
      openssh: add(new PtyClient('OpenSSH', sshd.client)),
      jump: add(new PtyClient('OpenSSH via a jump host', sshd.jumpClient)),
      sesame: sesameSession('Sesame, first session'),
      relay: relayClient('bare Node relay, first client'),
      local: add(new PtyClient('local PTY', { file: '/bin/bash', args: ['--noprofile', '--norc', '-i'] })),
    };
    return {
      clients,
      relay: {
        openssh: () => ({ ssh: [clients.openssh.pid], sshd: descendantsNamed(sshd.pid, 'sshd') }),
        jump: () => ({
          ssh: [clients.jump.pid, ...descendantsNamed(clients.jump.pid, 'ssh')],
          sshd: descendantsNamed(sshd.pid, 'sshd'),
        }),
        sesame: () => ({
          'sesame ssh': [clients.sesame.pid],
          'sesame-server': [sesame.server.child.pid as number],
          'sesame-agent': [agent.child.pid as number],
        }),
        relay: () => ({
          client: [clients.relay.pid],
          relay: [nodeRelay.relayPid],
          agent: [nodeRelay.agentPid],
        }),
        local: () => ({}),
      },
      sesameSession,
      async serverGc() {
        const pid = sesame.server.child.pid as number;
        // Counts from two server processes cannot be subtracted: a restart ends the comparison.
        if (gcAsked.pid !== 0 && gcAsked.pid !== pid)
          throw new Error(
            `the Sesame server restarted (pid ${gcAsked.pid}, now ${pid}): its GC counts began again`,
          );
        const { asked, pid: _, ...counts } = await askGcCounts(pid, gcFile, gcAsked.asked);
        Object.assign(gcAsked, { pid, asked });
        return counts;
      },
      async newSesameClient(name) {
        await clients.sesame.close();
        clients.sesame = sesameSession(name);
        return clients.sesame;
      },
      async newRelayClient(name) {
        await clients.relay.kill();
        clients.relay = relayClient(name);
        return clients.relay;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
