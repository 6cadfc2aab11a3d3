import type { AgentInventory } from '@sesame/protocol';
// The domain objects the store hands out and the Store contract the services program against.
// Rows never leave the store: every method returns these camelCase objects.

export type Tags = Record<string, string>;

export type User = {
  id: string;
  username: string;
  passwordHash: string | null;
  isAdmin: boolean;
  disabled: boolean;
  createdAt: number;
};

export type ApiToken = { tokenHash: string; userId: string; createdAt: number; expiresAt: number };

export type InstanceKind = 'ec2' | 'managed';

export type Activation = {
  id: string;
  codeHash: string;
  description: string;
  instanceKind: InstanceKind;
  registrationLimit: number;
  registrationsCount: number;
  expiresAt: number;
  defaultTags: Tags;
  defaultInstanceName: string | null;
  createdBy: string;
  createdAt: number;
};

export type InstanceStatus = 'Online' | 'ConnectionLost';

/** The agent's report about its server (the wire type, kept as it came). */
export type Inventory = AgentInventory;

export type Instance = Inventory & {
  id: string;
  name: string;
  kind: InstanceKind;
  activationId: string;
  publicKey: string;
  status: InstanceStatus;
  lastSeenAt: number | null;
  registeredAt: number;
  tags: Tags;
};

export type SessionState = 'Connecting' | 'Connected' | 'Terminating' | 'Terminated' | 'Failed';

export type SessionRecord = {
  id: string;
  ownerId: string;
  owner: string;
  instanceId: string;
  document: string;
  state: SessionState;
  reason: string | null;
  startedAt: number;
  endedAt: number | null;
  exitCode: number | null;
  recordingKey: string | null;
  clientAddress: string | null;
};

export type SessionPatch = Partial<
  Pick<SessionRecord, 'state' | 'reason' | 'endedAt' | 'exitCode' | 'recordingKey'>
>;

export type SessionFilter = {
  state: 'active' | 'history';
  ownerId?: string;
  instanceId?: string;
  limit?: number;
};

export type AuditOutcome = 'allowed' | 'denied' | 'succeeded' | 'failed';

export type AuditEvent = {
  seq: number;
  time: number;
  actor: string;
  action: string;
  resource: string;
  outcome: AuditOutcome;
  sourceAddress: string | null;
  detail: Record<string, unknown>;
};

export type AuditFilter = { afterSeq?: number; limit?: number; actor?: string };

export type NewUser = {
  id: string;
  username: string;
  passwordHash: string | null;
  isAdmin: boolean;
  createdAt: number;
};

export type NewSetupToken = { tokenHash: string; userId: string; expiresAt: number };

export type StoreDialect = 'sqlite' | 'postgres';

export interface Store {
  readonly dialect: StoreDialect;
  // users
  createUser(u: NewUser): Promise<User>;
  getUserById(id: string): Promise<User | undefined>;
  getUserByUsername(username: string): Promise<User | undefined>;
  listUsers(): Promise<User[]>;
  setPasswordHash(userId: string, hash: string): Promise<void>;
  setUserDisabled(userId: string, disabled: boolean): Promise<void>;
  // bearer tokens (only hashes are stored)
  createApiToken(t: ApiToken): Promise<void>;
  getApiToken(tokenHash: string): Promise<ApiToken | undefined>;
  deleteApiToken(tokenHash: string): Promise<void>;
  deleteUserApiTokens(userId: string): Promise<void>;
  // one-time setup/invitation tokens
  createSetupToken(t: NewSetupToken): Promise<void>;
  consumeSetupToken(tokenHash: string, now: number): Promise<string | undefined>;
  deleteSetupTokensForUser(userId: string): Promise<void>;
  // activations
  createActivation(a: Activation): Promise<void>;
  getActivation(id: string): Promise<Activation | undefined>;
  listActivations(): Promise<Activation[]>;
  deleteActivation(id: string): Promise<boolean>;
  claimActivation(id: string, now: number): Promise<boolean>;
  // instances
  createInstance(i: Instance): Promise<void>;
  getInstance(id: string): Promise<Instance | undefined>;
  findInstancesByName(name: string): Promise<Instance[]>;
  listInstances(): Promise<Instance[]>;
  updateInventory(id: string, inv: Inventory): Promise<void>;
  setInstanceStatus(id: string, status: InstanceStatus, lastSeenAt: number): Promise<void>;
  markAllInstancesConnectionLost(): Promise<number>;
  setInstanceTags(id: string, tags: Tags): Promise<void>;
  deleteInstance(id: string): Promise<boolean>;
  // sessions
  createSession(s: SessionRecord): Promise<void>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  listSessions(filter: SessionFilter): Promise<SessionRecord[]>;
  updateSession(id: string, patch: SessionPatch): Promise<void>;
  failDanglingSessions(now: number, reason: string): Promise<number>;
  // audit trail (append-only)
  appendAudit(e: Omit<AuditEvent, 'seq'>): Promise<AuditEvent>;
  listAudit(filter: AuditFilter): Promise<AuditEvent[]>;
  close(): Promise<void>;
}
