// Row shapes as the database holds them (snake_case, booleans as 0/1, JSON as text, times as epoch ms).
// Only the store's query files see these; everything they return is mapped to the domain types.
import type { Generated } from 'kysely';

export type UsersTable = {
  id: string;
  username: string;
  password_hash: string | null;
  is_admin: number;
  disabled: number;
  created_at: number;
  email: string | null;
  source: string;
  external_id: string | null;
};

export type ApiTokensTable = {
  token_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  session_id: string | null;
};

/** Every refresh token a sign-in has spent (hashed): presenting one again means a copy exists. */
export type UsedRefreshTokensTable = {
  hash: string;
  session_id: string;
  used_at: number;
};

export type SignInSessionsTable = {
  id: string;
  user_id: string;
  method: string;
  provider_id: string | null;
  mfa_at: number | null;
  mfa_method: string | null;
  source_address: string | null;
  client: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  refresh_hash: string | null;
  previous_refresh_hash: string | null;
  /** The web sign-in that approved this one (a CLI hand-off); revoking it revokes this. */
  parent_id: string | null;
  /** The browser's or CLI's device (hashed) the sign-in was made on, if it named one. */
  device_hash: string | null;
};

export type AuthFlowsTable = {
  id_hash: string;
  kind: string;
  user_id: string | null;
  data: string;
  attempts: number;
  created_at: number;
  expires_at: number;
};

export type UsedOnceTable = { key: string; expires_at: number };

export type MfaDevicesTable = {
  id: string;
  user_id: string;
  kind: string;
  name: string;
  secret: string | null;
  credential_id: string | null;
  public_key: string | null;
  counter: number;
  transports: string;
  last_used_step: number | null;
  created_at: number;
  last_used_at: number | null;
};

export type MfaKnownContextsTable = {
  user_id: string;
  device_hash: string;
  source_address: string;
  mfa_at: number;
  expires_at: number;
};

export type SignInThrottleTable = {
  key: string;
  failures: number;
  window_start: number;
  locked_until: number | null;
};

export type SettingsTable = { key: string; value: string; updated_at: number };

export type IdentityProvidersTable = {
  id: string;
  kind: string;
  name: string;
  config: string;
  enabled: number;
  created_at: number;
  updated_at: number;
};

export type SetupTokensTable = {
  token_hash: string;
  user_id: string;
  expires_at: number;
  used_at: number | null;
};

export type ActivationsTable = {
  id: string;
  code_hash: string;
  description: string;
  instance_kind: string;
  registration_limit: number;
  registrations_count: number;
  expires_at: number;
  default_tags: string;
  default_instance_name: string | null;
  created_by: string;
  created_at: number;
};

export type InstancesTable = {
  id: string;
  name: string;
  kind: string;
  activation_id: string;
  public_key: string;
  status: string;
  last_seen_at: number | null;
  registered_at: number;
  hostname: string;
  platform: string;
  platform_version: string;
  ip_addresses: string;
  agent_version: string;
};

export type InstanceTagsTable = { instance_id: string; key: string; value: string };

export type SessionsTable = {
  id: string;
  owner_id: string;
  owner: string;
  instance_id: string;
  document: string;
  state: string;
  reason: string | null;
  started_at: number;
  ended_at: number | null;
  exit_code: number | null;
  recording_key: string | null;
  client_address: string | null;
};

export type AuditEventsTable = {
  seq: Generated<number>;
  time: number;
  actor: string;
  action: string;
  resource: string;
  outcome: string;
  source_address: string | null;
  detail: string;
};

export type UserTagsTable = { user_id: string; key: string; value: string };

export type GroupsTable = { id: string; name: string; description: string; created_at: number };

export type GroupMembersTable = { group_id: string; user_id: string };

export type PoliciesTable = {
  id: string;
  name: string;
  description: string;
  document: string;
  created_at: number;
  updated_at: number;
};

export type PermissionSetsTable = {
  id: string;
  name: string;
  description: string;
  session_duration_ms: number;
  inline_policy: string | null;
  created_at: number;
  updated_at: number;
};

/** `position` keeps the managed policies in the order they were given. */
export type PermissionSetPoliciesTable = { permission_set_id: string; policy_id: string; position: number };

export type AssignmentsTable = {
  id: string;
  permission_set_id: string;
  principal_type: string;
  principal_id: string;
  created_at: number;
};

export type StoreDatabase = {
  users: UsersTable;
  api_tokens: ApiTokensTable;
  setup_tokens: SetupTokensTable;
  activations: ActivationsTable;
  instances: InstancesTable;
  instance_tags: InstanceTagsTable;
  sessions: SessionsTable;
  audit_events: AuditEventsTable;
  user_tags: UserTagsTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  policies: PoliciesTable;
  permission_sets: PermissionSetsTable;
  permission_set_policies: PermissionSetPoliciesTable;
  assignments: AssignmentsTable;
  sign_in_sessions: SignInSessionsTable;
  used_refresh_tokens: UsedRefreshTokensTable;
  auth_flows: AuthFlowsTable;
  used_once: UsedOnceTable;
  mfa_devices: MfaDevicesTable;
  mfa_known_contexts: MfaKnownContextsTable;
  sign_in_throttle: SignInThrottleTable;
  settings: SettingsTable;
  identity_providers: IdentityProvidersTable;
};
