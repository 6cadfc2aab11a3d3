#!/usr/bin/env node
/** `sesame-server`: runs the control plane from SESAME_CONFIG (a JSON file) and SESAME_* variables. */
import { readFileSync } from 'node:fs';
import { tuneHeap } from '@sesame/agent/heap';
import { loadConfig } from './config.ts';
import { SesameError } from './errors.ts';
import { forgetSecrets } from './forget-secrets.ts';
import { createLogger } from './log.ts';
import { createServer } from './main.ts';
import { recoverAccount } from './recover.ts';
import { rotateSecretsKey } from './rotate-secrets-key.ts';
import { stopOnSignals } from './stop-signals.ts';

const USAGE = `Usage: sesame-server
       sesame-server recover <username>
       sesame-server forget-secrets --lost-key-id <id>
       sesame-server rotate-secrets-key

Runs the Sesame control plane. Settings come from a JSON file named by SESAME_CONFIG and from SESAME_*
variables (SESAME_HOST, SESAME_PORT, SESAME_PUBLIC_URL, SESAME_DATA_DIR, SESAME_DATABASE_URL, SESAME_SECRETS_KEY,
SESAME_LOG_LEVEL, SESAME_TRUST_PROXY); see the README's "Configuration". The data directory defaults to ./.sesame under the
current directory. The first administrator's setup link is printed here at the first start.

recover <username>: for someone locked out with no administrator to help (a forgotten password, a lost MFA
device). With the server's settings (on SQLite, with the server stopped), removes that account's MFA devices and
sign-ins, replaces its password by a random one, unlocks and enables it, and prints a one-time link to set a new
password; a new MFA device is registered at the first sign-in. Audited.

forget-secrets --lost-key-id <id>: when the secrets key is lost (the server refuses to start: its database's
secrets were sealed with another key, whose id the refusal shows). With the server's settings and a new key (SESAME_SECRETS_KEY, or on SQLite a new
secrets.key made in the data directory), removes every secret the lost key sealed: authenticator apps are deleted
(their owners register one again), OIDC client secrets are dropped and those providers disabled (give the secret
again, then enable them). Then the database takes the new key. Audited. Stop the server first (every server, on
PostgreSQL).

rotate-secrets-key: seals every secret again under a new key, in one transaction. The new key is
SESAME_NEW_SECRETS_KEY, or, when the key in use is the data directory's secrets.key, a random one that replaces it.
With the key in SESAME_SECRETS_KEY, give SESAME_NEW_SECRETS_KEY and start every server with it afterwards. Audited.
Stop the server first (every server, on PostgreSQL).
`;

async function run(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  const recovering = args[0] === 'recover' && args.length === 2;
  const forgetting = args[0] === 'forget-secrets' && args.length === 3 && args[1] === '--lost-key-id';
  const rotating = args[0] === 'rotate-secrets-key' && args.length === 1;
  if (args.length > 0 && !recovering && !forgetting && !rotating) {
    const problem =
      args[0] === 'recover'
        ? 'recover takes one user name'
        : args[0] === 'forget-secrets'
          ? 'forget-secrets deletes the secrets sealed with a lost key: name it with --lost-key-id <id> (the id the refused start showed)'
          : `unknown argument ${JSON.stringify(args[0])}`;
    process.stderr.write(`sesame-server: ${problem}\n\n${USAGE}`);
    process.exit(2);
  }
  const heapFlag = tuneHeap();
  const path = process.env.SESAME_CONFIG;
  const config = loadConfig(process.env, path ? { path, text: readFileSync(path, 'utf8') } : undefined);
  if (rotating) {
    const r = await rotateSecretsKey(
      config,
      createLogger({ level: 'warn' }),
      process.env.SESAME_NEW_SECRETS_KEY || undefined,
    );
    process.stdout.write(
      `Sealed ${r.totpSecrets} authenticator app secret(s) and ${r.clientSecrets} client secret(s) again under the key with id ${r.to} (${r.keySource}); the key with id ${r.from} no longer opens them.\n` +
        (r.kept > 0 ? `${r.kept} value(s) that did not open with the old key were kept as they are.\n` : '') +
        (r.keySource === 'SESAME_NEW_SECRETS_KEY'
          ? 'Start every server with SESAME_SECRETS_KEY set to that key.\n'
          : config.databaseUrl
            ? 'Copy that secrets.key to every other server that shares this database before it starts again.\n'
            : '') +
        'Backups of the database made before now need the old key to open their secrets.\n',
    );
    return;
  }
  if (forgetting) {
    const r = await forgetSecrets(config, createLogger({ level: 'warn' }), args[2] as string);
    if (!r.forgot) {
      process.stdout.write(
        `The secrets key (id ${r.keyId}, ${r.keySource}) opens this database's secrets: nothing to forget.\n`,
      );
      return;
    }
    const providers = r.clientSecretsOf.length > 0 ? r.clientSecretsOf.join(', ') : 'none';
    process.stdout.write(
      `Forgot what the lost key sealed: ${r.totpDevices} authenticator app(s) of ${r.usersOfThem.length} person(s) deleted (they register one again);\n` +
        `client secrets dropped and providers disabled: ${providers} (give each its client secret again, then enable it).\n` +
        (r.keptOfOtherKeys > 0
          ? `${r.keptOfOtherKeys} secret(s) sealed with yet another key were kept as they are (each unusable until replaced).\n`
          : '') +
        `The database now takes the secrets key with id ${r.keyId} (${r.keySource}).\n`,
    );
    return;
  }
  if (recovering) {
    const name = args[1] as string;
    const r = await recoverAccount(config, createLogger({ level: 'warn' }), name);
    const notes = [
      r.wasDisabled ? `${name} was disabled and is enabled now.` : '',
      r.isAdmin ? '' : `${name} is not an administrator.`,
      config.publicUrl
        ? ''
        : 'The link uses the listen address: set SESAME_PUBLIC_URL for one people can open elsewhere.',
    ].filter(Boolean);
    process.stdout.write(
      `${name}: ${r.removedDevices} MFA device(s) removed, sign-ins ended, the old password no longer works, unlocked.\n` +
        `${notes.map((n) => `${n}\n`).join('')}` +
        `With the server running, set a new password at (until ${new Date(r.expiresAt).toISOString()})\n  ${r.link}\n` +
        'or run `sesame setup` and paste the link; a new MFA device is registered at the first sign-in.\n',
    );
    return;
  }
  const log = createLogger({ level: config.logLevel });
  log.info({ heapGrowth: heapFlag ?? 'from the node command line' }, 'V8 old-generation growing factor');
  const server = await createServer(config, log);
  const url = await server.listen();
  const first = await server.identity.bootstrap();
  if (first.setupToken) {
    process.stdout.write(
      `First administrator "${first.username}": set a password at ${url}/setup#token=${first.setupToken}\n`,
    );
  }
  if (server.tlsFingerprint)
    process.stdout.write(`TLS certificate SHA-256 fingerprint: ${server.tlsFingerprint}\n`);
  process.stdout.write(`sesame server ready at ${url}\n`);
  stopOnSignals(
    () => server.close(),
    (line) => process.stderr.write(`sesame-server: ${line}\n`),
  );
}

run().catch((error: unknown) => {
  const message = error instanceof SesameError ? error.message : (error as Error).stack;
  process.stderr.write(`sesame-server: ${message}\n`);
  process.exit(1);
});
