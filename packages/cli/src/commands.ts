import { agentCommands } from '@sesame/agent';
import { type Command, Option } from 'commander';
import { accessCommands, policyCommands } from './access-commands.ts';
import { adminMfaCommands, adminSsoCommands } from './admin-sign-in-commands.ts';
import { adminUserCommands } from './admin-user-commands.ts';
import { auditCommands } from './audit-commands.ts';
import { client, done, type Out, outputOption, parseTagArgs } from './command-kit.ts';
import { CliError, ExitCodes } from './errors.ts';
import { mfaCommands } from './mfa-commands.ts';
import { isoTime, printList, printObject, terminalSafeJson } from './output.ts';
import { startSession } from './shell-client.ts';
import { signInCommands } from './sign-in/sign-in-commands.ts';

export function registerCommands(program: Command): void {
  signInCommands(program);
  mfaCommands(
    program.command('mfa').description('your MFA devices: list, add an authenticator app, rename, remove'),
  );

  program
    .command('instances')
    .description('list the instances you can start a session on')
    .addOption(outputOption())
    .action(async (o: Out) => {
      const instances = await (await client()).list('/api/v1/instances', 'instances');
      const rows = instances.map((i) => ({ ...i, lastSeen: isoTime(i.lastSeenAt) }));
      printList(
        o.output === 'json' ? instances : rows,
        [
          ['id', 'ID'],
          ['name', 'NAME'],
          ['status', 'STATUS'],
          ['lastSeen', 'LAST SEEN'],
          ['platform', 'PLATFORM'],
          ['ipAddresses', 'IP'],
          ['tags', 'TAGS'],
        ],
        o.output,
        'instances',
      );
    });

  const start = async (target: string) => {
    const code = await startSession(await client(), target);
    process.exitCode = code;
  };
  program
    .command('start-session')
    .description('open an interactive shell on an instance')
    .requiredOption('--target <instance>', 'instance id (i-…, mi-…) or name')
    .action(async (o: { target: string }) => start(o.target));
  program
    .command('ssh')
    .description('same as start-session --target <instance>')
    .argument('<instance>', 'instance id or name')
    .action(async (target: string) => start(target));

  program
    .command('sessions')
    .description(
      'list the sessions you may see (ssm:DescribeSessions): running ones, or ended ones with --state history',
    )
    .addOption(
      new Option('--state <state>', 'active: running now; history: ended')
        .choices(['active', 'history'])
        .default('active'),
    )
    .addOption(outputOption())
    .action(async (o: Out & { state: string }) => {
      const { sessions } = await (await client()).call<{ sessions: Record<string, unknown>[] }>(
        'GET',
        `/api/v1/sessions?state=${o.state}`,
      );
      const rows = sessions.map((s) => ({ ...s, started: isoTime(s.startedAt), ended: isoTime(s.endedAt) }));
      printList(
        o.output === 'json' ? sessions : rows,
        [
          ['id', 'SESSION'],
          ['owner', 'OWNER'],
          ['instanceId', 'INSTANCE'],
          ['state', 'STATE'],
          ['started', 'STARTED'],
          ['ended', 'ENDED'],
          ['reason', 'REASON'],
        ],
        o.output,
        'sessions',
      );
    });
  program
    .command('terminate')
    .description('end a session')
    .argument('<session-id>')
    .action(async (id: string) => {
      const { session } = await (await client()).call<{ session: { id: string; state: string } }>(
        'POST',
        `/api/v1/sessions/${encodeURIComponent(id)}/terminate`,
      );
      process.stdout.write(`${session.id} ${session.state}\n`);
    });
  program
    .command('recording')
    .description('print a session recording (asciicast v2; play it with `asciinema play`)')
    .argument('<session-id>')
    .action(async (id: string) => {
      const path = `/api/v1/sessions/${encodeURIComponent(id)}/recording`;
      await (await client()).download(path, terminalSafeJson(), process.stdout);
    });

  const admin = program
    .command('admin')
    .description(
      'administration: users, groups, policies, permission sets, activations, instances, MFA settings, SSO, audit trail',
    );
  adminUserCommands(admin);
  adminCommands(admin);
  accessCommands(admin);
  adminMfaCommands(admin);
  adminSsoCommands(admin);
  auditCommands(admin);
  policyCommands(program.command('policy').description('check policies: validate files, simulate decisions'));
  agentCommands(program.command('agent').description('run the Sesame agent (same as sesame-agent)'));
}

function adminCommands(admin: Command): void {
  const activations = admin.command('activations').description('activation codes that register servers');
  activations
    .command('create')
    .description('create an activation: prints the command each server runs to register')
    .option('--description <text>', 'what it is for', '')
    .option('--limit <n>', 'how many servers may register with it', '1')
    .option('--expires-in-hours <h>', 'how long it stays valid', '24')
    .addOption(
      new Option('--kind <kind>', 'register servers as on-premises (mi-) or cloud instances (i-)')
        .choices(['managed', 'ec2'])
        .default('managed'),
    )
    .option('--name <name>', 'default instance name (else the Name tag or the hostname)')
    .option('--tag <key=value...>', 'default tags for the servers', [])
    .addOption(outputOption())
    .action(
      async (
        o: Out & {
          description: string;
          limit: string;
          expiresInHours: string;
          kind: string;
          name?: string;
          tag: string[];
        },
      ) => {
        const api = await client();
        const r = await api.call<{ activation: { id: string; expiresAt: number }; code: string }>(
          'POST',
          '/api/v1/activations',
          {
            description: o.description,
            registrationLimit: Number(o.limit),
            expiresInHours: Number(o.expiresInHours),
            instanceKind: o.kind,
            defaultTags: parseTagArgs(o.tag),
            ...(o.name ? { defaultInstanceName: o.name } : {}),
          },
        );
        if (o.output === 'json')
          return printObject(
            { activationId: r.activation.id, activationCode: r.code, expiresAt: r.activation.expiresAt },
            'json',
          );
        // The code in the environment, not on the command line, where any local user could read it (ps).
        const pin = api.tls ? ` --fingerprint ${api.tls.fingerprint256}` : '';
        process.stdout.write(
          `Activation ${r.activation.id} (valid until ${isoTime(r.activation.expiresAt)}). On each server run:\n  SESAME_ACTIVATION_CODE=${r.code} sesame-agent register --url ${api.url} --activation-id ${r.activation.id}${pin}\n`,
        );
      },
    );
  activations
    .command('list')
    .description('list the activations, with how many servers each registered')
    .addOption(outputOption())
    .action(async (o: Out) => {
      const list = await (await client()).list('/api/v1/activations', 'activations');
      const rows = list.map((a) => ({
        ...a,
        expires: isoTime(a.expiresAt),
        used: `${a.registrationsCount}/${a.registrationLimit}`,
      }));
      printList(
        o.output === 'json' ? list : rows,
        [
          ['id', 'ID'],
          ['description', 'DESCRIPTION'],
          ['instanceKind', 'KIND'],
          ['used', 'USED'],
          ['expires', 'EXPIRES'],
          ['expired', 'EXPIRED'],
          ['defaultTags', 'TAGS'],
        ],
        o.output,
        'activations',
      );
    });
  activations
    .command('delete')
    .description('delete an activation (servers it registered stay registered)')
    .argument('<id>')
    .action(async (id: string) => {
      await (await client()).call('DELETE', `/api/v1/activations/${encodeURIComponent(id)}`);
      done(`deleted activation ${id}`);
    });

  const instances = admin.command('instances').description('registered servers');
  const tagsPath = (target: string) => `/api/v1/instances/${encodeURIComponent(target)}/tags`;
  instances
    .command('tag')
    .description(
      "add or change an instance's tags, keeping its others (--replace: these become all its tags)",
    )
    .argument('<instance>')
    .argument('[key=value...]')
    .option('--replace', 'replace every tag the instance has with these (none: remove them all)')
    .addOption(outputOption())
    .action(async (target: string, pairs: string[], o: Out & { replace?: boolean }) => {
      if (!o.replace && pairs.length === 0)
        throw new CliError(
          'give the tags to add, as key=value (or --replace with none to remove them all)',
          ExitCodes.INVALID,
        );
      const { instance } = await (await client()).call<{ instance: object }>(
        o.replace ? 'PUT' : 'PATCH',
        tagsPath(target),
        o.replace ? parseTagArgs(pairs) : { add: parseTagArgs(pairs) },
      );
      printObject(instance, o.output);
    });
  instances
    .command('untag')
    .description('remove tags from an instance, keeping its others')
    .argument('<instance>')
    .argument('<key...>')
    .addOption(outputOption())
    .action(async (target: string, keys: string[], o: Out) => {
      const { instance } = await (await client()).call<{ instance: object }>('PATCH', tagsPath(target), {
        remove: keys,
      });
      printObject(instance, o.output);
    });
  instances
    .command('delete')
    .description('deregister an instance (its agent can no longer connect)')
    .argument('<instance>')
    .action(async (target: string) => {
      await (await client()).call('DELETE', `/api/v1/instances/${encodeURIComponent(target)}`);
      done(`deregistered ${target}`);
    });
}
