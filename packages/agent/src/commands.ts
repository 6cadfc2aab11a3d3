import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import pino from 'pino';
import { runAgent } from './agent.ts';
import { loadIdentity } from './identity.ts';
import { registerAgent, repinAgent } from './register.ts';
import { resolveRunAs } from './run-as.ts';

export function defaultIdentityPath(): string {
  if (process.env.SESAME_AGENT_IDENTITY) return process.env.SESAME_AGENT_IDENTITY;
  return process.getuid?.() === 0
    ? '/var/lib/sesame-agent/identity.json'
    : join(homedir(), '.config', 'sesame-agent', 'identity.json');
}

/** `register` and `run`, shared by `sesame-agent` and `sesame agent`. */
export function agentCommands(program: Command): Command {
  program
    .command('register')
    .description('register this server with an activation; stores the agent identity (0600)')
    .requiredOption('--url <url>', 'the Sesame server URL, e.g. https://sesame.example.com')
    .requiredOption('--activation-id <id>', 'the activation id an administrator created')
    .addOption(
      new Option(
        '--activation-code <code>',
        'the activation code shown with it (from the environment, it stays out of ps)',
      )
        .env('SESAME_ACTIVATION_CODE')
        .makeOptionMandatory(),
    )
    .option(
      '--fingerprint <sha256>',
      "the server certificate's SHA-256 fingerprint (needed for a self-signed certificate)",
    )
    .option('--identity <path>', 'where to keep the identity', defaultIdentityPath())
    .option('--force', 'replace an existing identity (registers a new instance)')
    .option(
      '--insecure-http',
      'accept a plain http:// URL to another machine (anyone on the way can take its shells)',
    )
    .action(
      async (options: {
        force?: boolean;
        insecureHttp?: boolean;
        url: string;
        activationId: string;
        activationCode: string;
        fingerprint?: string;
        identity: string;
      }) => {
        const identity = await registerAgent({ ...options, identityPath: options.identity });
        process.stdout.write(
          `registered as ${identity.instanceId} (${identity.name}); identity saved to ${options.identity}\n`,
        );
      },
    );
  program
    .command('pin')
    .description(
      "trust the server's replaced TLS certificate: checks it against --fingerprint, keeps the same instance",
    )
    .requiredOption(
      '--fingerprint <sha256>',
      "the new certificate's SHA-256 fingerprint, from the server's administrator",
    )
    .option('--identity <path>', 'the identity written by `register`', defaultIdentityPath())
    .action(async (options: { fingerprint: string; identity: string }) => {
      const identity = await repinAgent(options.identity, options.fingerprint);
      process.stdout.write(
        `${identity.instanceId} now trusts ${identity.url} by its certificate SHA-256 ${identity.tls?.fingerprint256}; restart the agent to use it\n`,
      );
    });
  program
    .command('run')
    .description('connect out to the server and serve sessions (reconnects by itself)')
    .option('--identity <path>', 'the identity written by `register`', defaultIdentityPath())
    .option('--run-as <user>', 'local account sessions run as (default: sesame-user, created if missing)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug', 'info')
    .option('--max-backoff-ms <ms>', 'longest wait between reconnection attempts', '60000')
    .action(async (options: { identity: string; runAs?: string; logLevel: string; maxBackoffMs: string }) => {
      const maxMs = Number(options.maxBackoffMs);
      if (!Number.isInteger(maxMs) || maxMs < 100 || maxMs > 3_600_000)
        throw new Error('--max-backoff-ms must be a whole number from 100 to 3600000');
      const log = pino({ level: options.logLevel, base: { service: 'sesame-agent' } });
      const identity = await loadIdentity(options.identity);
      const { user, note } = resolveRunAs(options.runAs);
      if (note) log.warn(note);
      log.info({ instanceId: identity.instanceId, url: identity.url, runAs: user.name }, 'agent starting');
      const agent = runAgent({
        identity,
        runAs: user,
        log,
        backoff: { initialMs: Math.min(500, maxMs), maxMs },
      });
      const stop = () => {
        agent.stop();
        setTimeout(() => process.exit(0), 200).unref();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  return program;
}
