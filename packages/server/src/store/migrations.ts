// Schema migrations, in code (nothing is read from disk at run time). Kysely's Migrator runs them in name
// order and records them in `kysely_migration`; a run (every pending migration) is one transaction under a
// lock: Kysely's own on PostgreSQL, and `BEGIN IMMEDIATE` on SQLite (open-store.ts).
// One set of migrations serves both dialects; where SQLite and PostgreSQL differ it is spelled out here.
// biome-ignore-all lint/suspicious/noExplicitAny: `Kysely<any>` is what Kysely's Migration type hands over: a migration must not depend on today's schema types.
import { type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';
import type { StoreDialect } from './types.ts';

/** A migration that refuses the data it found, saying what to do about it (shown as it is). */
export class MigrationRefusal extends Error {}

export function createMigrationProvider(dialect: StoreDialect): MigrationProvider {
  const migrations: Record<string, Migration> = {
    '0001-initial-schema': { up: (db) => initialSchema(db, dialect) },
    '0002-access-model': { up: (db) => accessModel(db, dialect) },
    '0003-sign-in': { up: (db) => signIn(db) },
    '0004-session-listing': { up: (db) => sessionListing(db) },
    '0005-used-refresh-tokens': { up: (db) => usedRefreshTokens(db) },
    '0006-sign-in-parent': { up: (db) => signInParent(db) },
    '0007-sign-in-device': { up: (db) => signInDevice(db) },
    '0008-instance-public-key': { up: (db) => instancePublicKey(db) },
    '0009-session-id-bytewise': { up: (db) => sessionIdBytewise(db, dialect) },
    '0010-audit-lookups': { up: (db) => auditLookups(db) },
  };
  return { getMigrations: async () => migrations };
}

async function initialSchema(db: Kysely<any>, dialect: StoreDialect): Promise<void> {
  // Text that is sorted or prefix-matched compares byte-wise in both dialects: SQLite's default BINARY collation,
  // and "C" on PostgreSQL (whose database default may be a locale); this also lets LIKE 'prefix%' use the index.
  const bytewiseText = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;

  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('username', bytewiseText, (c) => c.notNull())
    .addColumn('password_hash', 'text')
    .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addCheckConstraint('users_is_admin_boolean', sql`is_admin in (0, 1)`)
    .addCheckConstraint('users_disabled_boolean', sql`disabled in (0, 1)`)
    .execute();
  await db.schema.createIndex('users_username_unique').on('users').column('username').unique().execute();
  // "Alice" and "alice" must not be two people: user names appear in session ids and policy variables.
  await db.schema
    .createIndex('users_username_lower_unique')
    .on('users')
    .expression(sql`lower(username)`)
    .unique()
    .execute();

  await db.schema
    .createTable('api_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('api_tokens_user_id').on('api_tokens').column('user_id').execute();

  await db.schema
    .createTable('setup_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .execute();
  await db.schema.createIndex('setup_tokens_user_id').on('setup_tokens').column('user_id').execute();

  // created_by and activation_id are deliberately not foreign keys: an activation outlives the admin who made
  // it, and an instance outlives the activation it registered with (as in SSM).
  await db.schema
    .createTable('activations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('code_hash', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('instance_kind', 'text', (c) => c.notNull())
    .addColumn('registration_limit', 'integer', (c) => c.notNull())
    .addColumn('registrations_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('default_tags', 'text', (c) => c.notNull())
    .addColumn('default_instance_name', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('activations_created_at').on('activations').column('created_at').execute();

  await db.schema
    .createTable('instances')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', bytewiseText, (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('activation_id', 'text', (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'bigint')
    .addColumn('registered_at', 'bigint', (c) => c.notNull())
    .addColumn('hostname', 'text', (c) => c.notNull())
    .addColumn('platform', 'text', (c) => c.notNull())
    .addColumn('platform_version', 'text', (c) => c.notNull())
    .addColumn('ip_addresses', 'text', (c) => c.notNull())
    .addColumn('agent_version', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('instances_name').on('instances').columns(['name', 'id']).execute();

  await db.schema
    .createTable('instance_tags')
    .addColumn('instance_id', 'text', (c) => c.notNull().references('instances.id').onDelete('cascade'))
    .addColumn('key', bytewiseText, (c) => c.notNull())
    .addColumn('value', bytewiseText, (c) => c.notNull())
    .addPrimaryKeyConstraint('instance_tags_pkey', ['instance_id', 'key'])
    .execute();
  await db.schema
    .createIndex('instance_tags_key_value')
    .on('instance_tags')
    .columns(['key', 'value'])
    .execute();

  // Sessions are history: they keep naming their owner and instance after either is gone, so no foreign keys.
  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('owner_id', 'text', (c) => c.notNull())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('instance_id', 'text', (c) => c.notNull())
    .addColumn('document', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('ended_at', 'bigint')
    .addColumn('exit_code', 'integer')
    .addColumn('recording_key', 'text')
    .addColumn('client_address', 'text')
    .execute();
  await db.schema
    .createIndex('sessions_state_started_at')
    .on('sessions')
    .columns(['state', 'started_at'])
    .execute();
  await db.schema
    .createIndex('sessions_owner_id')
    .on('sessions')
    .columns(['owner_id', 'started_at'])
    .execute();
  await db.schema
    .createIndex('sessions_instance_id')
    .on('sessions')
    .columns(['instance_id', 'started_at'])
    .execute();

  // The audit sequence is the one autoincrement id: SQLite's AUTOINCREMENT never reuses a number,
  // PostgreSQL's identity column is its equivalent (GENERATED ALWAYS: nobody picks their own seq).
  const audit = db.schema.createTable('audit_events');
  const withSeq =
    dialect === 'postgres'
      ? audit.addColumn('seq', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
      : audit.addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement());
  await withSeq
    .addColumn('time', 'bigint', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('resource', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('source_address', 'text')
    .addColumn('detail', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_events_actor').on('audit_events').columns(['actor', 'seq']).execute();
}

// Groups, managed policies, permission sets, their assignments to users and groups, and principal tags on users.
// Names of groups, policies and permission sets are unique regardless of letter case, as user names are.
async function accessModel(db: Kysely<any>, dialect: StoreDialect): Promise<void> {
  const bytewiseText = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  const uniqueNames = async (table: string) => {
    await db.schema.createIndex(`${table}_name_unique`).on(table).column('name').unique().execute();
    await db.schema
      .createIndex(`${table}_name_lower_unique`)
      .on(table)
      .expression(sql`lower(name)`)
      .unique()
      .execute();
  };

  await db.schema
    .createTable('user_tags')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('key', bytewiseText, (c) => c.notNull())
    .addColumn('value', bytewiseText, (c) => c.notNull())
    .addPrimaryKeyConstraint('user_tags_pkey', ['user_id', 'key'])
    .execute();

  await db.schema
    .createTable('groups')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', bytewiseText, (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await uniqueNames('groups');

  await db.schema
    .createTable('group_members')
    .addColumn('group_id', 'text', (c) => c.notNull().references('groups.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('group_members_pkey', ['group_id', 'user_id'])
    .execute();
  await db.schema.createIndex('group_members_user_id').on('group_members').column('user_id').execute();

  await db.schema
    .createTable('policies')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', bytewiseText, (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('document', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await uniqueNames('policies');

  await db.schema
    .createTable('permission_sets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', bytewiseText, (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('session_duration_ms', 'bigint', (c) => c.notNull())
    .addColumn('inline_policy', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await uniqueNames('permission_sets');

  // A policy that is attached somewhere cannot be deleted: the default NO ACTION refuses it (RESTRICT would do the
  // same, but SQLite reports it as SQLITE_CONSTRAINT_TRIGGER instead of a foreign-key violation).
  await db.schema
    .createTable('permission_set_policies')
    .addColumn('permission_set_id', 'text', (c) =>
      c.notNull().references('permission_sets.id').onDelete('cascade'),
    )
    .addColumn('policy_id', 'text', (c) => c.notNull().references('policies.id'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('permission_set_policies_pkey', ['permission_set_id', 'policy_id'])
    .execute();
  await db.schema
    .createIndex('permission_set_policies_policy_id')
    .on('permission_set_policies')
    .column('policy_id')
    .execute();

  // The principal is a user or a group, so it cannot be a foreign key: deleting a user or a group deletes its
  // assignments in the same transaction, and creating an assignment checks (and locks) the principal.
  await db.schema
    .createTable('assignments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('permission_set_id', 'text', (c) =>
      c.notNull().references('permission_sets.id').onDelete('cascade'),
    )
    .addColumn('principal_type', 'text', (c) => c.notNull())
    .addColumn('principal_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addCheckConstraint('assignments_principal_type', sql`principal_type in ('user', 'group')`)
    .addUniqueConstraint('assignments_permission_set_principal_unique', [
      'permission_set_id',
      'principal_type',
      'principal_id',
    ])
    .execute();
  await db.schema
    .createIndex('assignments_principal')
    .on('assignments')
    .columns(['principal_type', 'principal_id'])
    .execute();
}

// Sign-in: sign-in sessions (every API token belongs to one), half-done sign-ins and SSO round trips ("flows"),
// MFA devices, remembered sign-in contexts, failure counters for rate limiting, settings and identity providers.
async function signIn(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('email', 'text').execute();
  await db.schema
    .alterTable('users')
    .addColumn('source', 'text', (c) => c.notNull().defaultTo('local'))
    .execute();
  await db.schema.alterTable('users').addColumn('external_id', 'text').execute();
  await db.schema
    .createIndex('users_source_external_id_unique')
    .on('users')
    .columns(['source', 'external_id'])
    .unique()
    .execute();

  await db.schema
    .createTable('sign_in_sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('provider_id', 'text')
    .addColumn('mfa_at', 'bigint')
    .addColumn('mfa_method', 'text')
    .addColumn('source_address', 'text')
    .addColumn('client', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .addColumn('refresh_hash', 'text')
    .addColumn('previous_refresh_hash', 'text')
    .execute();
  await db.schema.createIndex('sign_in_sessions_user_id').on('sign_in_sessions').column('user_id').execute();
  await db.schema
    .createIndex('sign_in_sessions_refresh_hash')
    .on('sign_in_sessions')
    .column('refresh_hash')
    .unique()
    .execute();
  await db.schema
    .createIndex('sign_in_sessions_previous_refresh_hash')
    .on('sign_in_sessions')
    .column('previous_refresh_hash')
    .execute();

  // Tokens from before sign-in sessions existed have none to be revoked with: they go.
  await db.deleteFrom('api_tokens').execute();
  await db.schema
    .alterTable('api_tokens')
    .addColumn('session_id', 'text', (c) => c.references('sign_in_sessions.id').onDelete('cascade'))
    .execute();
  await db.schema.createIndex('api_tokens_session_id').on('api_tokens').column('session_id').execute();

  await db.schema
    .createTable('auth_flows')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('auth_flows_expires_at').on('auth_flows').column('expires_at').execute();

  await db.schema
    .createTable('used_once')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('mfa_devices')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('secret', 'text')
    .addColumn('credential_id', 'text')
    .addColumn('public_key', 'text')
    .addColumn('counter', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('transports', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('last_used_step', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .addCheckConstraint('mfa_devices_kind', sql`kind in ('totp', 'webauthn')`)
    .execute();
  await db.schema.createIndex('mfa_devices_user_id').on('mfa_devices').column('user_id').execute();
  await db.schema
    .createIndex('mfa_devices_credential_id_unique')
    .on('mfa_devices')
    .column('credential_id')
    .unique()
    .execute();

  await db.schema
    .createTable('mfa_known_contexts')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('device_hash', 'text', (c) => c.notNull())
    .addColumn('source_address', 'text', (c) => c.notNull())
    .addColumn('mfa_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('mfa_known_contexts_pkey', ['user_id', 'device_hash'])
    .execute();

  await db.schema
    .createTable('sign_in_throttle')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('window_start', 'bigint', (c) => c.notNull())
    .addColumn('locked_until', 'bigint')
    .execute();

  await db.schema
    .createTable('settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('identity_providers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addCheckConstraint('identity_providers_kind', sql`kind in ('oidc', 'saml')`)
    .execute();
}

/**
 * Session listings are newest first, `started_at desc, id desc`, over several states ('Terminated' and 'Failed'):
 * (state, started_at) could not give that order across states, so every page of the history sorted all of it
 * (~180 ms a page with 200,000 sessions on SQLite, the event loop blocked). The store now reads each state in
 * this index's order and merges; the old index is a prefix of it.
 */
async function sessionListing(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('sessions_state_started_at_id')
    .on('sessions')
    .columns(['state', 'started_at', 'id'])
    .execute();
  await db.schema.dropIndex('sessions_state_started_at').execute();
}

/**
 * A sign-in kept only its current and previous refresh token, so a thief who refreshed twice in a row left the
 * stolen token matching neither: its owner's next refresh looked merely expired, and the copy lived on. Every
 * spent token is kept until its sign-in goes.
 */
async function usedRefreshTokens(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('used_refresh_tokens')
    .addColumn('hash', 'text', (c) => c.primaryKey())
    .addColumn('session_id', 'text', (c) => c.notNull().references('sign_in_sessions.id').onDelete('cascade'))
    .addColumn('used_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('used_refresh_tokens_session_id')
    .on('used_refresh_tokens')
    .column('session_id')
    .execute();
}

/**
 * A CLI sign-in handed off from a web sign-in (loopback or device code) ends with it: it kept working after the
 * person signed out of the browser, or an administrator revoked that sign-in.
 */
async function signInParent(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sign_in_sessions').addColumn('parent_id', 'text').execute();
  await db.schema
    .createIndex('sign_in_sessions_parent_id')
    .on('sign_in_sessions')
    .column('parent_id')
    .execute();
}

/** The device a sign-in was made on, so that revoking the sign-in makes that device unknown again. */
async function signInDevice(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sign_in_sessions').addColumn('device_hash', 'text').execute();
}

/**
 * Registration looks an agent's key up: an agent whose first answer was lost registers again with the same key
 * and gets the same instance back, instead of spending another registration on an instance nobody can use. One
 * key, one instance: two registrations with one key at once cannot both create one. (Keys were made afresh for
 * every registration before, so no database holds one twice.)
 */
async function instancePublicKey(db: Kysely<any>): Promise<void> {
  // Only a hand-made client could have sent one key twice; say which instances, rather than fail on the index.
  const shared = await db
    .selectFrom('instances')
    .select('id')
    .where(
      'public_key',
      'in',
      db.selectFrom('instances').select('public_key').groupBy('public_key').having(sql`count(*)`, '>', 1),
    )
    .orderBy('id')
    .execute();
  if (shared.length > 0)
    throw new MigrationRefusal(
      `instances ${shared.map((row) => row.id).join(', ')} were registered with one agent key, and each key may now register one instance: delete all but the one in use with the previous version of Sesame (sesame admin instances delete <id>), then start this one`,
    );
  await db.schema.createIndex('instances_public_key').on('instances').column('public_key').unique().execute();
}

// Session ids are sorted (listing, newest first with id to break ties), paged by keyset and prefix-matched (a new
// user name against kept sessions), all assuming byte order, which the initial schema left to the database's
// default collation on PostgreSQL (a locale may put "_" before "-"). SQLite compares bytes already.
async function sessionIdBytewise(db: Kysely<any>, dialect: StoreDialect): Promise<void> {
  if (dialect !== 'postgres') return;
  await sql`alter table sessions alter column id type text collate "C"`.execute(db);
}

// The audit trail is read newest first by action, by resource and by time (GET /api/v1/audit): without these, a
// filter that matches little scanned the whole trail backwards for one page.
async function auditLookups(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('audit_events_action').on('audit_events').columns(['action', 'seq']).execute();
  await db.schema
    .createIndex('audit_events_resource')
    .on('audit_events')
    .columns(['resource', 'seq'])
    .execute();
  await db.schema.createIndex('audit_events_time').on('audit_events').columns(['time', 'seq']).execute();
}
