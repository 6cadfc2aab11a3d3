import type { Command } from 'commander';
import { client, type Out, outputOption } from './command-kit.ts';
import { CliError, ExitCodes } from './errors.ts';
import { isoTime, printList } from './output.ts';

const MAX_PAGE = 1000;

/** `sesame admin audit`: the audit trail, newest first (cloudtrail:LookupEvents). */
export function auditCommands(admin: Command): void {
  admin
    .command('audit')
    .description('the audit trail, newest first: who did what, on what, when, and whether it was allowed')
    .option('--actor <username>', 'only what this user (or "system") did')
    .option('--action <action>', 'only this action, e.g. ssm:StartSession')
    .option('--resource <arn>', 'only events on this resource (an ARN, as shown)')
    .option('--since <time>', 'only events at or after this time (ISO 8601, e.g. 2026-11-22T09:00:00Z)')
    .option('--until <time>', 'only events before this time (ISO 8601)')
    .option('--limit <n>', 'at most this many events', '100')
    .addOption(outputOption())
    .action(
      async (
        o: Out & Record<'actor' | 'action' | 'resource' | 'since' | 'until' | 'limit', string | undefined>,
      ) => {
        const limit = Number(o.limit);
        if (!Number.isSafeInteger(limit) || limit < 1)
          throw new CliError('--limit must be a whole number of at least 1', ExitCodes.INVALID);
        const query = new URLSearchParams({ maxResults: String(Math.min(limit, MAX_PAGE)) });
        for (const name of ['actor', 'action', 'resource', 'since', 'until'] as const) {
          const value = o[name];
          if (value !== undefined) query.set(name, value);
        }
        const events = await (await client()).list(`/api/v1/audit?${query}`, 'events', limit);
        const rows = events.map((e) => ({ ...e, when: isoTime(e.time) }));
        printList(
          o.output === 'json' ? events : rows,
          [
            ['when', 'TIME'],
            ['actor', 'ACTOR'],
            ['action', 'ACTION'],
            ['outcome', 'OUTCOME'],
            ['resource', 'RESOURCE'],
            ['sourceAddress', 'SOURCE'],
          ],
          o.output,
          'events',
        );
      },
    );
}
