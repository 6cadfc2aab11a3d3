/**
 * `npm start`: a complete Sesame on this machine. Starts the server on the embedded defaults (SQLite and
 * recordings under ./.sesame), registers a local agent on first start, runs it, and prints how to get in.
 * Starting again reuses the same data. Ctrl-C stops everything.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tuneHeap } from '@sesame/agent/heap';
import {
  createLogger,
  createServer,
  loadConfig,
  SesameError,
  SYSTEM_PRINCIPAL,
  stopOnSignals,
} from '@sesame/server';
import pino from 'pino';

const root = resolve(import.meta.dirname, '..');
const agentBin = join(root, 'packages/agent/bin/sesame-agent.js');
const cliBin = join(root, 'packages/cli/bin/sesame.js');

function run(args: string[], logFile: number): ChildProcess {
  return spawn(process.execPath, [agentBin, ...args], { stdio: ['ignore', logFile, logFile] });
}

async function main(): Promise<void> {
  tuneHeap();
  const path = process.env.SESAME_CONFIG;
  const config = loadConfig(process.env, path ? { path, text: readFileSync(path, 'utf8') } : undefined);
  config.dataDir = resolve(config.dataDir);
  // Private from the start: the log is opened before the server makes (and checks) the directory.
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const serverLog = join(config.dataDir, 'server.log');
  const server = await createServer(
    config,
    createLogger({
      level: config.logLevel,
      destination: pino.destination({ dest: serverLog, mkdir: true, sync: false }),
    }),
  );
  const url = await server.listen();
  const first = await server.identity.bootstrap();

  const identity = join(config.dataDir, 'local-agent', 'identity.json');
  const agentLog = openSync(join(config.dataDir, 'local-agent.log'), 'a');
  const known =
    existsSync(identity) &&
    (await server.store.getInstance(JSON.parse(readFileSync(identity, 'utf8')).instanceId));
  if (!known) {
    const { activation, code } = await server.activations.create(SYSTEM_PRINCIPAL, {
      description: 'local agent started by npm start',
      defaultInstanceName: 'local',
      defaultTags: { Name: 'local' },
    });
    const register = run(
      [
        'register',
        '--url',
        url,
        '--activation-id',
        activation.id,
        '--activation-code',
        code,
        '--identity',
        identity,
      ],
      agentLog,
    );
    const status = await new Promise<number | null>((done) => register.on('exit', done));
    if (status !== 0)
      throw new Error(`the local agent could not register (see ${join(config.dataDir, 'local-agent.log')})`);
  }
  const agent = run(['run', '--identity', identity], agentLog);
  // Listened for from the start: Ctrl-C reaches the agent too (same process group), and an agent still
  // starting dies of it at once, possibly before our own handler runs; its exit must not be missed.
  const agentExited = new Promise<void>((done) => agent.once('exit', () => done()));
  const instanceId = JSON.parse(readFileSync(identity, 'utf8')).instanceId as string;
  // People get the server by name: browsers refuse security keys and passkeys on a page opened by address.
  const people = url.replace(/^(https?:\/\/)127\.0\.0\.1(?=[:/]|$)/, '$1localhost');
  const cli = `node ${cliBin}`;

  const lines = [
    '',
    `Sesame is running at ${people}   (data in ${config.dataDir})`,
    `Local instance: ${instanceId} (name "local")`,
    ...(server.tlsFingerprint ? [`TLS certificate SHA-256 fingerprint: ${server.tlsFingerprint}`] : []),
    '',
    first.setupToken
      ? `First administrator "${first.username}": set a password at\n  ${people}/setup#token=${first.setupToken}\nor run\n  ${cli} setup\nand paste that link when asked.`
      : `Sign in:  ${cli} login --url ${people} --user ${first.username}`,
    '',
    `Then:     ${cli} instances`,
    `          ${cli} ssh local`,
    '',
    `Logs: ${serverLog}, ${join(config.dataDir, 'local-agent.log')}. Ctrl-C stops Sesame.`,
    '',
  ];
  process.stdout.write(lines.join('\n'));

  const signals = stopOnSignals(
    async () => {
      process.stdout.write('\nstopping Sesame... (Ctrl-C again to stop at once)\n');
      agent.kill('SIGTERM');
      await agentExited;
      await server.close();
    },
    (line) => process.stderr.write(`npm start: ${line}\n`),
    () => agent.kill('SIGKILL'), // it must not outlive npm start
  );
  agent.on('exit', (code, signal) => {
    if (!signals.stopping)
      process.stderr.write(
        `the local agent exited (${code ?? signal}); see ${join(config.dataDir, 'local-agent.log')}\n`,
      );
  });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `npm start: ${error instanceof SesameError ? error.message : (error as Error).stack}\n`,
  );
  process.exit(1);
});
