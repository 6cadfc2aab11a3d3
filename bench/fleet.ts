/**
 * A real Sesame server (in-process, temp SQLite data directory, no listener) with a large fleet and the seed
 * stories' users: the administrator; testuser01 with the AWS guide's ProductionPermissionSet (the on-premises
 * variant, pasted verbatim); a State Street user with the ABAC policy
 * (verbatim), its tag-group statements 2..n, a listing policy and 990 statements of other teams (other
 * services, other projects). Users, groups, policies and assignments go through the server's own services.
 *
 * Instances: the first few hundred through store.createInstance (timed, to report the store's own rate),
 * the rest in one SQLite transaction on the same file (the store has no bulk insert; one transaction per
 * instance would take minutes at 100,000), then read back through the store to check the rows.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { createLogger, createServer, loadConfig, type SesameServer, SYSTEM_PRINCIPAL } from '@sesame/server';
import Database from 'better-sqlite3';
import type { Principal } from '../packages/server/src/authorize.ts';
import { instanceRow } from '../packages/server/src/store/instances-store.ts';
import type { InstanceTagsTable } from '../packages/server/src/store/schema.ts';
import type { Instance } from '../packages/server/src/store/types.ts';
import { abacStatement, statementsOf } from './policy-fixtures.ts';

const FIXTURES = resolve(import.meta.dirname, '../packages/policy/fixtures');
export const APP_GROUPS = 100;
/** The State Street user's app group. */
export const STATE_STREET_GROUP = 42;
/** Instances inserted through store.createInstance, one transaction each, to time the store's own path. */
const THROUGH_STORE = 500;
/** State Street tag groups the ABAC policy has statements for (AppGroupName, AppGroupName2 … AppGroupNameN). */
const TAG_GROUP_STATEMENTS = 20;

const hex = (n: number) => n.toString(16).padStart(17, '0');
const release = (g: number) => `${1 + (g % 4)}.${g % 10}`;

/** Instance n: every tenth on-premises (mi-), project alternating Production/Development, app group n % 100. */
export function fleetInstance(n: number, registeredAt: number): Instance {
  const managed = n % 10 === 9;
  const g = n % APP_GROUPS;
  const project = n % 2 === 0 ? 'Production' : 'Development';
  const name = `${project === 'Production' ? 'prd' : 'dev'}-grp${g}-${n}`;
  return {
    id: `${managed ? 'mi' : 'i'}-${hex(n)}`,
    name,
    kind: managed ? 'managed' : 'ec2',
    activationId: 'bench-activation',
    publicKey: `ed25519-bench-key-${n}`,
    status: 'ConnectionLost',
    lastSeenAt: registeredAt,
    registeredAt,
    hostname: `${name}.corp.example.com`,
    platform: 'linux',
    platformVersion: 'Debian 12',
    ipAddresses: [`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`],
    agentVersion: '0.1.0',
    tags: {
      Name: name,
      project,
      APP_GROUP_NAME: `grp-${g}`,
      APP_ID: `APP-${g}`,
      RELEASE_ID: release(g),
      CostCenter: `cc-${n % 37}`,
    },
  };
}

function bulkInsert(path: string, from: number, to: number, registeredAt: number): void {
  const db = new Database(path, { timeout: 5_000 });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    const columns = (row: object) => Object.keys(row);
    const insert = (table: string, row: object) =>
      db.prepare(
        `INSERT INTO ${table} (${columns(row).join(', ')}) VALUES (${columns(row)
          .map((c) => `@${c}`)
          .join(', ')})`,
      );
    const sample = fleetInstance(from, registeredAt);
    const tagRow = (instanceId: string, key: string, value: string): InstanceTagsTable => ({
      instance_id: instanceId,
      key,
      value,
    });
    const instances = insert('instances', instanceRow(sample));
    const tags = insert('instance_tags', tagRow('', '', ''));
    db.transaction(() => {
      for (let n = from; n < to; n++) {
        const i = fleetInstance(n, registeredAt);
        instances.run(instanceRow(i));
        for (const [key, value] of Object.entries(i.tags)) tags.run(tagRow(i.id, key, value));
      }
    })();
  } finally {
    db.close();
  }
}

export type FleetUser = { label: string; principal: Principal; token: string };

export type Fleet = {
  server: SesameServer;
  instances: number;
  users: FleetUser[];
  seeding: { throughStore: number; storeMsPerInstance: number; bulkSeconds: number; totalSeconds: number };
  sqlitePath: string;
  close(): Promise<void>;
};

export async function startFleet(instances: number): Promise<Fleet> {
  const started = performance.now();
  const dataDir = mkdtempSync(join(tmpdir(), 'sesame-bench-fleet-'));
  const config = loadConfig({ SESAME_DATA_DIR: dataDir, SESAME_PORT: '0', SESAME_LOG_LEVEL: 'silent' });
  // Instances are written by a first server (and straight into its database), then the server under test
  // starts on that data, as after a restart: its instance catalog loads them at start.
  const seeder = await createServer(config, createLogger({ level: 'silent' }));
  const sqlitePath = join(dataDir, 'sesame.db');
  let server: SesameServer = seeder;
  try {
    const now = Date.now();
    const viaStore = Math.min(THROUGH_STORE, instances);
    const storeStart = performance.now();
    for (let n = 0; n < viaStore; n++) await seeder.store.createInstance(fleetInstance(n, now));
    const storeMsPerInstance = (performance.now() - storeStart) / Math.max(1, viaStore);
    const bulkStart = performance.now();
    bulkInsert(sqlitePath, viaStore, instances, now);
    const bulkSeconds = (performance.now() - bulkStart) / 1000;
    await seeder.close();
    server = await createServer(config, createLogger({ level: 'silent' }));
    const listed = await server.store.listInstances();
    const probe = fleetInstance(instances - 1, now);
    const back = listed.find((i) => i.id === probe.id);
    if (listed.length !== instances || !isDeepStrictEqual(back, probe))
      throw new Error(`the store reads back ${listed.length} instances, not the ${instances} written`);

    const users = await seedAccess(server);
    return {
      server,
      instances,
      users,
      seeding: {
        throughStore: viaStore,
        storeMsPerInstance,
        bulkSeconds,
        totalSeconds: (performance.now() - started) / 1000,
      },
      sqlitePath,
      async close() {
        await server.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await server.close().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}

async function seedAccess(server: SesameServer): Promise<FleetUser[]> {
  const S = SYSTEM_PRINCIPAL;
  const users: FleetUser[] = [];
  // The benchmark measures listing, not signing in: a sign-in session is started directly, MFA counted as done.
  const signIn = async (label: string, username: string, _setupToken: string) => {
    const user = await server.store.getUserByUsername(username);
    if (!user) throw new Error(`no user ${username}`);
    const { token } = await server.sessions.start({
      user,
      method: 'password',
      providerId: null,
      mfaAt: Date.now(),
      mfaMethod: 'totp',
      sourceAddress: '127.0.0.1',
      client: 'cli',
    });
    users.push({ label, principal: { userId: user.id, username, sourceAddress: '127.0.0.1' }, token });
  };
  const { setupToken = '' } = await server.identity.bootstrap();
  await signIn('administrator (AdministratorAccess)', 'admin', setupToken);

  const create = async (username: string) => (await server.identity.createUser(S, { username })).setupToken;
  // The AWS guide: ProductionAccess holds ProductionPermissionSet (on-premises variant: instances and managed
  // instances tagged project=Production, and the ServiceSetting Deny).
  const testuser = await create('testuser01');
  await server.directory.createGroup(S, { name: 'ProductionAccess' });
  await server.directory.addMember(S, 'ProductionAccess', { username: 'testuser01' });
  const inlinePolicy = readFileSync(join(FIXTURES, '004-production-permission-set-on-premises.txt'), 'utf8');
  await server.permissions.createPermissionSet(S, { name: 'ProductionPermissionSet', inlinePolicy });
  await server.permissions.assign(S, {
    permissionSet: 'ProductionPermissionSet',
    principalType: 'group',
    principalName: 'ProductionAccess',
  });
  await signIn('testuser01 (AWS guide, project=Production)', 'testuser01', testuser);

  const policy = async (name: string, document: unknown) =>
    server.permissions.createPolicy(S, { name, document });
  await policy('PamAbac', readFileSync(join(FIXTURES, '000-state-street-abac.txt'), 'utf8'));
  await policy('PamAbacTagGroups', {
    Version: '2012-10-17',
    Statement: Array.from({ length: TAG_GROUP_STATEMENTS - 1 }, (_, i) => abacStatement(i + 2)),
  });
  await policy('PamListing', {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'ssm:DescribeInstanceProperties', Resource: '*' }],
  });
  // 990 statements of other teams (other services, other projects' StartSession, Denies), as a large
  // organisation's permission set accumulates them.
  await policy('PamOtherTeams', { Version: '2012-10-17', Statement: statementsOf(1_000).slice(10) });
  await server.permissions.createPermissionSet(S, {
    name: 'PAM',
    policies: ['PamAbac', 'PamAbacTagGroups', 'PamListing', 'PamOtherTeams'],
  });
  await server.directory.createGroup(S, { name: 'pam-users' });
  await server.permissions.assign(S, {
    permissionSet: 'PAM',
    principalType: 'group',
    principalName: 'pam-users',
  });
  const g = STATE_STREET_GROUP;
  const setup = await create('ss-alice');
  await server.directory.addMember(S, 'pam-users', { username: 'ss-alice' });
  await server.directory.setUserTags(S, 'ss-alice', {
    AppGroupName: `grp-${g}`,
    AppId: `APP-${g}`,
    ReleaseId: release(g),
  });
  await signIn(`ss-alice (State Street, one app group of ${APP_GROUPS})`, 'ss-alice', setup);
  return users;
}
