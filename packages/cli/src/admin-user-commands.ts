import type { Command } from 'commander';
import { client, done, enc, type Out, outputOption, parseTagArgs } from './command-kit.ts';
import { CliError, ExitCodes } from './errors.ts';
import { isoTime, printList, printObject } from './output.ts';

/** The server builds the link (a /setup link for a new account, /reset for a reset). */
type SetupLink = {
  setupToken: string;
  setupUrl: string;
  setupExpiresAt?: number;
  invitationSent?: boolean;
  emailSent?: boolean;
};

function showSetup(username: string, r: SetupLink, o: Out): void {
  const emailed = r.invitationSent ?? r.emailSent;
  if (o.output === 'json') {
    printObject(
      {
        username,
        setupUrl: r.setupUrl,
        setupToken: r.setupToken,
        setupExpiresAt: r.setupExpiresAt,
        ...(r.invitationSent === undefined ? {} : { invitationSent: r.invitationSent }),
        ...(r.emailSent === undefined ? {} : { emailSent: r.emailSent }),
      },
      'json',
    );
    return;
  }
  const until = r.setupExpiresAt ? ` (valid until ${isoTime(r.setupExpiresAt)})` : '';
  if (emailed) process.stdout.write(`Emailed ${username} a one-time link to set a password${until}.\n`);
  process.stdout.write(
    `${emailed ? 'The same link, to pass on yourself' : `Send ${username} this one-time link to set a password${until}`}:\n  ${r.setupUrl}\nto open in a browser, or to paste into \`sesame setup\` when it asks.\n`,
  );
}

const userPath = (username: string, rest = '') => `/api/v1/users/${enc(username)}${rest}`;

/** `sesame admin users …`: local accounts, their setup links, locks, principal tags and MFA devices. */
export function adminUserCommands(admin: Command): void {
  const users = admin.command('users').description('local user accounts');
  users
    .command('list')
    .addOption(outputOption())
    .action(async (o: Out) => {
      const list = await (await client()).list('/api/v1/users', 'users');
      printList(
        list,
        [
          ['username', 'USER'],
          ['email', 'EMAIL'],
          ['isAdmin', 'ADMIN'],
          ['disabled', 'DISABLED'],
          ['hasPassword', 'PASSWORD SET'],
        ],
        o.output,
        'users',
      );
    });
  users
    .command('create')
    .description('create a local account and a one-time link to set its password')
    .argument('<username>')
    .option('--admin', 'make an administrator')
    .option('--email <address>', 'their email address (for invitations, password resets and email codes)')
    .option('--send-invitation', 'email them the setup link (needs --email and SMTP on the server)')
    .option(
      '--reuse-name',
      "take the name of a deleted user whose sessions are kept: only for the same person, who gets those sessions' recordings by name",
    )
    .addOption(outputOption())
    .action(
      async (
        username: string,
        o: Out & { admin?: boolean; email?: string; sendInvitation?: boolean; reuseName?: boolean },
      ) => {
        const api = await client();
        const r = await api.call<SetupLink>('POST', '/api/v1/users', {
          username,
          isAdmin: o.admin === true,
          ...(o.email ? { email: o.email } : {}),
          ...(o.sendInvitation ? { sendInvitation: true } : {}),
          ...(o.reuseName ? { reuseName: true } : {}),
        });
        showSetup(username, r, o);
      },
    );
  users
    .command('reset')
    .description(
      "reset a local user's password: the old one stops working, sign-ins and remembered devices are revoked, and a new one-time setup link is issued (accounts of an identity provider are reset there)",
    )
    .argument('<username>')
    .option('--send-email', 'email the link to their address')
    .addOption(outputOption())
    .action(async (username: string, o: Out & { sendEmail?: boolean }) => {
      const api = await client();
      const r = await api.call<SetupLink>('POST', userPath(username, '/reset'), {
        ...(o.sendEmail ? { sendEmail: true } : {}),
      });
      showSetup(username, r, o);
    });
  for (const [verb, description] of [
    ['disable', 'stop a user from signing in, and end every sign-in they have'],
    ['enable', 'let a disabled user sign in again'],
  ] as const) {
    users
      .command(verb)
      .description(description)
      .argument('<username>')
      .action(async (username: string) => {
        await (await client()).call('POST', userPath(username, `/${verb}`));
        process.stdout.write(`${username} ${verb}d\n`);
      });
  }
  users
    .command('unlock')
    .description('clear the lock that too many failed sign-ins put on an account')
    .argument('<username>')
    .action(async (username: string) => {
      await (await client()).call('POST', userPath(username, '/unlock'));
      process.stdout.write(`${username} unlocked\n`);
    });
  users
    .command('delete')
    .description('delete a user account (it can no longer sign in)')
    .argument('<username>')
    .action(async (username: string) => {
      await (await client()).call('DELETE', userPath(username));
      done(`deleted user ${username}`);
    });
  users
    .command('set-email')
    .description("set a user's email address")
    .argument('<username>')
    .argument('<email>')
    .addOption(outputOption())
    .action(async (username: string, email: string, o: Out) => {
      const { user } = await (await client()).call<{ user: object }>('PATCH', userPath(username), { email });
      printObject(user, o.output);
    });
  users
    .command('mfa-devices')
    .description("a user's registered MFA devices")
    .argument('<username>')
    .addOption(outputOption())
    .action(async (username: string, o: Out) => {
      const { devices } = await (await client()).call<{ devices: Record<string, unknown>[] }>(
        'GET',
        userPath(username, '/mfa-devices'),
      );
      printDevices(devices, o.output);
    });
  users
    .command('tag')
    .description(
      "add or change a user's principal tags (aws:PrincipalTag/<key> in policies), keeping the others (--replace: these become all of them)",
    )
    .argument('<username>')
    .argument('[key=value...]')
    .option('--replace', 'replace every tag the user has with these (none: remove them all)')
    .addOption(outputOption())
    .action(async (username: string, pairs: string[], o: Out & { replace?: boolean }) => {
      if (!o.replace && pairs.length === 0)
        throw new CliError(
          'give the tags to add, as key=value (or --replace with none to remove them all)',
          ExitCodes.INVALID,
        );
      const r = await (await client()).call<{ tags: object }>(
        o.replace ? 'PUT' : 'PATCH',
        userPath(username, '/tags'),
        o.replace ? parseTagArgs(pairs) : { add: parseTagArgs(pairs) },
      );
      printObject(r.tags, o.output);
    });
  users
    .command('untag')
    .description('remove principal tags from a user, keeping the others')
    .argument('<username>')
    .argument('<key...>')
    .addOption(outputOption())
    .action(async (username: string, keys: string[], o: Out) => {
      const r = await (await client()).call<{ tags: object }>('PATCH', userPath(username, '/tags'), {
        remove: keys,
      });
      printObject(r.tags, o.output);
    });
  users
    .command('reset-mfa')
    .description("remove all of a user's MFA devices; they register a new one at their next sign-in")
    .argument('<username>')
    .action(async (username: string) => {
      await (await client()).call('DELETE', userPath(username, '/mfa-devices'));
      process.stdout.write(`${username}'s MFA devices were removed\n`);
    });
}

export function printDevices(devices: Record<string, unknown>[], format: string): void {
  const rows = devices.map((d) => ({ ...d, created: isoTime(d.createdAt), lastUsed: isoTime(d.lastUsedAt) }));
  printList(
    format === 'json' ? devices : rows,
    [
      ['id', 'ID'],
      ['kind', 'KIND'],
      ['name', 'NAME'],
      ['created', 'ADDED'],
      ['lastUsed', 'LAST USED'],
    ],
    format,
    'devices',
  );
}
