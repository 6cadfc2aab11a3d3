import { parsePolicy } from '@sesame/policy';
import { type Command, Option } from 'commander';
import { client, done, enc, type Out, outputOption, parseTagArgs, readInput } from './command-kit.ts';
import { CliError, ExitCodes } from './errors.ts';
import { printList, printObject } from './output.ts';

type Warnings = { warnings?: { path: string; message: string }[] };

function showWarnings(result: Warnings): void {
  for (const w of result.warnings ?? []) process.stderr.write(`warning: ${w.path}: ${w.message}\n`);
}

const hours = (value: string | undefined) =>
  value === undefined ? undefined : Math.round(Number(value) * 3_600_000);

/** `sesame admin groups|policies|permission-sets|assignments`. */
export function accessCommands(admin: Command): void {
  const groups = admin
    .command('groups')
    .description('groups of users (permission sets are assigned to groups)');
  groups
    .command('list')
    .description('list the groups and their members')
    .addOption(outputOption())
    .action(async (o: Out) => {
      const list = await (await client()).list('/api/v1/groups', 'groups');
      printList(
        list,
        [
          ['name', 'GROUP'],
          ['description', 'DESCRIPTION'],
          ['members', 'MEMBERS'],
        ],
        o.output,
        'groups',
      );
    });
  groups
    .command('create')
    .description('create a group')
    .argument('<name>')
    .option('--description <text>', 'what the group is for', '')
    .action(async (name: string, o: { description: string }) => {
      await (await client()).call('POST', '/api/v1/groups', { name, description: o.description });
      done(`created group ${name}`);
    });
  groups
    .command('delete')
    .description('delete a group (its members keep their accounts)')
    .argument('<name>')
    .action(async (name: string) => {
      await (await client()).call('DELETE', `/api/v1/groups/${enc(name)}`);
      done(`deleted group ${name}`);
    });
  groups
    .command('add-member')
    .description('add a user to a group')
    .argument('<group>')
    .argument('<username>')
    .action(async (group: string, username: string) => {
      await (await client()).call('POST', `/api/v1/groups/${enc(group)}/members`, { username });
      done(`added ${username} to ${group}`);
    });
  groups
    .command('remove-member')
    .description('remove a user from a group')
    .argument('<group>')
    .argument('<username>')
    .action(async (group: string, username: string) => {
      await (await client()).call('DELETE', `/api/v1/groups/${enc(group)}/members/${enc(username)}`);
      done(`removed ${username} from ${group}`);
    });

  const policies = admin
    .command('policies')
    .description('named IAM policies (attach them to permission sets)');
  policies
    .command('list')
    .description('list the named policies')
    .addOption(outputOption())
    .action(async (o: Out) => {
      const list = await (await client()).list('/api/v1/policies', 'policies');
      printList(
        list,
        [
          ['name', 'POLICY'],
          ['description', 'DESCRIPTION'],
        ],
        o.output,
        'policies',
      );
    });
  policies
    .command('show')
    .description("print a policy's document")
    .argument('<name>')
    .action(async (name: string) => {
      const { policy } = await (await client()).call<{ policy: { document: string } }>(
        'GET',
        `/api/v1/policies/${enc(name)}`,
      );
      process.stdout.write(`${policy.document.trimEnd()}\n`);
    });
  for (const verb of ['create', 'update'] as const) {
    policies
      .command(verb)
      .description(
        verb === 'create'
          ? 'create a named policy from an IAM JSON file'
          : "replace a policy's document or description",
      )
      .argument('<name>')
      .option('--file <policy.json>', 'the policy document (IAM JSON)')
      .option('--description <text>')
      .action(async (name: string, o: { file?: string; description?: string }) => {
        if (verb === 'create' && !o.file)
          throw new CliError('--file <policy.json> is required', ExitCodes.INVALID);
        const document = o.file ? await readInput(o.file) : undefined;
        const api = await client();
        const payload = {
          name,
          ...(document ? { document } : {}),
          ...(o.description === undefined ? {} : { description: o.description }),
        };
        showWarnings(
          await (verb === 'create'
            ? api.call<Warnings>('POST', '/api/v1/policies', payload)
            : api.call<Warnings>('PUT', `/api/v1/policies/${enc(name)}`, payload)),
        );
        done(`${verb}d policy ${name}`);
      });
  }
  policies
    .command('delete')
    .description('delete a named policy')
    .argument('<name>')
    .action(async (name: string) => {
      await (await client()).call('DELETE', `/api/v1/policies/${enc(name)}`);
      done(`deleted policy ${name}`);
    });

  const sets = admin
    .command('permission-sets')
    .description('permission sets: an inline policy, named policies and a session duration');
  sets
    .command('list')
    .description('list the permission sets')
    .addOption(outputOption())
    .action(async (o: Out) => {
      const permissionSets = await (await client()).list('/api/v1/permission-sets', 'permissionSets');
      const rows = permissionSets.map((p) => ({
        ...p,
        hours: Number(p.sessionDurationMs) / 3_600_000,
        inline: p.inlinePolicy ? 'yes' : 'no',
      }));
      printList(
        o.output === 'json' ? permissionSets : rows,
        [
          ['name', 'PERMISSION SET'],
          ['hours', 'SESSION HOURS'],
          ['inline', 'INLINE'],
          ['policies', 'POLICIES'],
          ['description', 'DESCRIPTION'],
        ],
        o.output,
        'permissionSets',
      );
    });
  sets
    .command('show')
    .description('print a permission set: its policies and session duration')
    .argument('<name>')
    .addOption(outputOption())
    .action(async (name: string, o: Out) => {
      const { permissionSet } = await (await client()).call<{ permissionSet: object }>(
        'GET',
        `/api/v1/permission-sets/${enc(name)}`,
      );
      printObject(permissionSet, o.output === 'table' ? 'json' : o.output);
    });
  for (const verb of ['create', 'update'] as const) {
    sets
      .command(verb)
      .description(verb === 'create' ? 'create a permission set' : 'change a permission set (what is given)')
      .argument('<name>')
      .option('--description <text>')
      .option('--session-duration-hours <h>', 'how long a sign-in with this permission set lasts (1-12)')
      .option('--inline-policy <policy.json>', 'the inline policy document')
      .option('--policy <name...>', 'named policies to attach (replaces the list on update)')
      .action(
        async (
          name: string,
          o: {
            description?: string;
            sessionDurationHours?: string;
            inlinePolicy?: string;
            policy?: string[];
          },
        ) => {
          const payload = {
            name,
            ...(o.description === undefined ? {} : { description: o.description }),
            ...(o.sessionDurationHours === undefined
              ? {}
              : { sessionDurationMs: hours(o.sessionDurationHours) }),
            ...(o.inlinePolicy ? { inlinePolicy: await readInput(o.inlinePolicy) } : {}),
            ...(o.policy ? { policies: o.policy } : {}),
          };
          const api = await client();
          showWarnings(
            await (verb === 'create'
              ? api.call<Warnings>('POST', '/api/v1/permission-sets', payload)
              : api.call<Warnings>('PUT', `/api/v1/permission-sets/${enc(name)}`, payload)),
          );
          done(`${verb}d permission set ${name}`);
        },
      );
  }
  sets
    .command('delete')
    .description('delete a permission set (and its assignments)')
    .argument('<name>')
    .action(async (name: string) => {
      await (await client()).call('DELETE', `/api/v1/permission-sets/${enc(name)}`);
      done(`deleted permission set ${name}`);
    });

  const assignments = admin
    .command('assignments')
    .description('which users and groups hold which permission sets');
  assignments
    .command('list')
    .description('list who holds which permission set')
    .addOption(outputOption())
    .action(async (o: Out) => {
      const list = await (await client()).list('/api/v1/assignments', 'assignments');
      printList(
        list,
        [
          ['id', 'ID'],
          ['permissionSet', 'PERMISSION SET'],
          ['principalType', 'TYPE'],
          ['principalName', 'TO'],
        ],
        o.output,
        'assignments',
      );
    });
  assignments
    .command('create')
    .description('give a group or a user a permission set (prints the assignment id)')
    .requiredOption('--permission-set <name>')
    .option('--group <name>')
    .option('--user <name>')
    .action(async (o: { permissionSet: string; group?: string; user?: string }) => {
      if (Boolean(o.group) === Boolean(o.user))
        throw new CliError('give exactly one of --group or --user', ExitCodes.INVALID);
      const principal = o.group
        ? { principalType: 'group', principalName: o.group }
        : { principalType: 'user', principalName: o.user };
      const { assignment } = await (await client()).call<{ assignment: { id: string } }>(
        'POST',
        '/api/v1/assignments',
        { permissionSet: o.permissionSet, ...principal },
      );
      process.stdout.write(`${assignment.id}\n`);
      done(`assigned ${o.permissionSet} to ${principal.principalType} ${principal.principalName}`);
    });
  assignments
    .command('delete')
    .description('take an assignment back (its id from `assignments list`)')
    .argument('<id>')
    .action(async (id: string) => {
      await (await client()).call('DELETE', `/api/v1/assignments/${enc(id)}`);
      done(`deleted assignment ${id}`);
    });
}

/** `sesame policy validate` (offline) and `sesame policy simulate` (asks the server). */
export function policyCommands(policy: Command): void {
  policy
    .command('validate')
    .description('check policy files without saving them; exits 2 if any has errors')
    .argument('<file...>')
    .action(async (files: string[]) => {
      let bad = 0;
      for (const file of files) {
        const result = parsePolicy(await readInput(file));
        for (const w of result.warnings) process.stderr.write(`${file}: warning: ${w.path}: ${w.message}\n`);
        if (result.ok) process.stdout.write(`${file}: valid\n`);
        else {
          bad++;
          for (const e of result.errors) process.stderr.write(`${file}: error: ${e.path}: ${e.message}\n`);
        }
      }
      if (bad > 0)
        throw new CliError(
          `${bad} of ${files.length} polic${files.length === 1 ? 'y is' : 'ies are'} not valid`,
          ExitCodes.INVALID,
        );
    });
  policy
    .command('simulate')
    .description('what would the policies decide? exits 0 when allowed, 4 when denied')
    .requiredOption('--user <name>')
    .requiredOption('--action <action>', 'e.g. ssm:StartSession')
    .option('--resource <arn>', 'the resource ARN')
    .option('--target <instance>', 'an instance (its ARN and tags are used)')
    .option('--context <key=value...>', 'extra condition keys, e.g. aws:SourceIp=10.0.0.1', [])
    .addOption(new Option('-o, --output <format>').choices(['table', 'json']).default('table'))
    .action(
      async (
        o: Out & { user: string; action: string; resource?: string; target?: string; context: string[] },
      ) => {
        const result = await (await client()).call<{
          decision: {
            allowed: boolean;
            effect: string;
            reason: string;
            decidedBy?: { policyId: string; sid?: string; statementIndex: number };
            failedConditions?: {
              policyId: string;
              statementIndex: number;
              sid?: string;
              operator: string;
              key: string;
            }[];
          };
          resource: string;
          assumed?: string[];
        }>('POST', '/api/v1/policy/simulate', {
          username: o.user,
          action: o.action,
          resource: o.resource,
          target: o.target,
          context: parseTagArgs(o.context),
        });
        const d = result.decision;
        if (o.output === 'json') printObject(result, 'json');
        else {
          const by = d.decidedBy
            ? ` by ${d.decidedBy.policyId} statement ${d.decidedBy.sid ?? `#${d.decidedBy.statementIndex}`}`
            : '';
          // A decision by a statement names it on the first line; an implicit deny's reason says why none decided.
          process.stdout.write(
            `${d.allowed ? 'ALLOWED' : 'DENIED'} (${d.effect})${by}: ${o.action} on ${result.resource}\n${by ? '' : `${d.reason}\n`}`,
          );
          for (const f of d.failedConditions ?? [])
            process.stdout.write(
              `  condition not met: ${f.policyId} ${f.sid ?? `#${f.statementIndex}`}: ${f.operator} ${f.key}\n`,
            );
          for (const a of result.assumed ?? []) process.stdout.write(`  assumed: ${a}\n`);
        }
        process.exitCode = d.allowed ? 0 : ExitCodes.FORBIDDEN;
      },
    );
}
