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
  email: string | null;
  /** `local`, or the id of the identity provider that provisions this user. */
  source: string;
  /** The provider's stable id for the user (OIDC `sub`, SAML NameID); null for local users. */
  externalId: string | null;
};

export type ApiToken = {
  tokenHash: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
  /** The sign-in session the token belongs to; revoking the session revokes the token. */
  sessionId: string | null;
};

export type SignInClient = 'web' | 'cli';

/** One sign-in: every token issued for it dies with it (logout, revocation, expiry). */
export type SignInSession = {
  id: string;
  userId: string;
  method: 'password' | 'sso';
  providerId: string | null;
  /** When the person last proved a second factor (or the IdP said it did); null: no MFA in this sign-in. */
  mfaAt: number | null;
  mfaMethod: string | null;
  sourceAddress: string | null;
  client: SignInClient;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
};

/** `parentId`: the web sign-in a CLI sign-in was handed off from; revoking that one revokes this one. */
export type NewSignInSession = SignInSession & {
  refreshHash: string | null;
  parentId?: string | null;
  /** The device (hashed) the sign-in was made on. */
  deviceHash?: string | null;
};

/** A half-done sign-in (waiting for MFA), an SSO round trip, a device code, an enrolment: short-lived state. */
export type AuthFlow = {
  idHash: string;
  kind: string;
  userId: string | null;
  data: Record<string, unknown>;
  attempts: number;
  createdAt: number;
  expiresAt: number;
};

export type MfaDeviceKind = 'totp' | 'webauthn';

export type MfaDevice = {
  id: string;
  userId: string;
  kind: MfaDeviceKind;
  name: string;
  /** TOTP: the base32 shared secret (null, with `secretProblem`, when the stored one does not open). */
  secret: string | null;
  /** TOTP: why the stored secret could not be opened (changed in the database): the device cannot be used. */
  secretProblem?: string;
  /** WebAuthn: the credential id and COSE public key, base64url. */
  credentialId: string | null;
  publicKey: string | null;
  counter: number;
  transports: string[];
  lastUsedStep: number | null;
  createdAt: number;
  lastUsedAt: number | null;
};

/** Failure counter for one key (`user:<digest of the name>`, `addr:<ip>`): a sliding window and a lockout. */
export type Throttle = { key: string; failures: number; windowStart: number; lockedUntil: number | null };

export type IdentityProviderKind = 'oidc' | 'saml';

export type IdentityProviderRecord = {
  id: string;
  kind: IdentityProviderKind;
  name: string;
  config: Record<string, unknown>;
  enabled: boolean;
  createdAt: number;
  updatedAt: number;
  /** Why the stored client secret could not be opened (changed in the database): left out of `config`. */
  secretProblem?: string;
};

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
  /** The next page: only sessions listed after this one (newest first: started earlier, or then a smaller id). */
  after?: Pick<SessionRecord, 'startedAt' | 'id'>;
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

export type AuditFilter = {
  afterSeq?: number;
  /** Only events before this one (with `newestFirst`, the next page). */
  beforeSeq?: number;
  /** Newest first (default: oldest first). */
  newestFirst?: boolean;
  limit?: number;
  actor?: string;
  action?: string;
  resource?: string;
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
};

export type NewUser = {
  id: string;
  username: string;
  passwordHash: string | null;
  isAdmin: boolean;
  createdAt: number;
  email?: string | null;
  source?: string;
  externalId?: string | null;
  /**
   * Take the name of a deleted user whose sessions are kept, knowing that policies naming users by name
   * (`session/${aws:username}-*`) give the new account those sessions (recordings included): the same person back.
   */
  reuseName?: boolean;
};

export type NewSetupToken = { tokenHash: string; userId: string; expiresAt: number };

export type Group = { id: string; name: string; description: string; createdAt: number };

/** A named, reusable IAM policy; `document` is the policy JSON as the administrator wrote it. */
export type ManagedPolicy = {
  id: string;
  name: string;
  description: string;
  document: string;
  createdAt: number;
  updatedAt: number;
};

/** What a person gets through an assignment: one inline policy and any number of managed policies (in order). */
export type PermissionSet = {
  id: string;
  name: string;
  description: string;
  sessionDurationMs: number;
  inlinePolicy: string | null;
  policyIds: string[];
  createdAt: number;
  updatedAt: number;
};

export type PrincipalType = 'user' | 'group';

export type Assignment = {
  id: string;
  permissionSetId: string;
  principalType: PrincipalType;
  principalId: string;
  createdAt: number;
};

export type AssignmentFilter = {
  id?: string;
  permissionSetId?: string;
  principalType?: PrincipalType;
  principalId?: string;
};

export type GroupPatch = { description?: string };

export type ManagedPolicyPatch = { description?: string; document?: string; updatedAt: number };

export type PermissionSetPatch = {
  description?: string;
  sessionDurationMs?: number;
  inlinePolicy?: string | null;
  /** Replaces the attached managed policies (all or nothing). */
  policyIds?: string[];
  updatedAt: number;
};

/** Everything policy evaluation needs, read at one point in time. */
export type AccessSnapshot = {
  users: { id: string; username: string; disabled: boolean; tags: Tags }[];
  groups: Group[];
  memberships: { groupId: string; userId: string }[];
  policies: ManagedPolicy[];
  permissionSets: PermissionSet[];
  assignments: Assignment[];
};

export type StoreDialect = 'sqlite' | 'postgres';

export interface Store {
  readonly dialect: StoreDialect;
  // users
  createUser(u: NewUser): Promise<User>;
  getUserById(id: string): Promise<User | undefined>;
  getUserByUsername(username: string): Promise<User | undefined>;
  listUsers(): Promise<User[]>;
  /**
   * null: no password (as an invited user), until a setup link sets one; with `expected`, only over that hash.
   * True when written.
   */
  setPasswordHash(userId: string, hash: string | null, expected?: string): Promise<boolean>;
  setUserDisabled(userId: string, disabled: boolean): Promise<void>;
  setUserEmail(userId: string, email: string | null): Promise<void>;
  getUserByExternalId(source: string, externalId: string): Promise<User | undefined>;
  getUserByEmail(email: string): Promise<User | undefined>;
  /** Removes the user with its tokens, setup tokens, memberships, tags and assignments; sessions and audit stay. */
  deleteUser(id: string): Promise<boolean>;
  // principal tags on users
  /**
   * Replaces the user's tags; with `expected`, only while they are still exactly those (the compare-and-set of a
   * read, decide, write). True when written; false for an unknown user or tags that changed in between.
   */
  setUserTags(userId: string, tags: Tags, expected?: Tags): Promise<boolean>;
  getUserTags(userId: string): Promise<Tags>;
  // groups
  createGroup(g: Group): Promise<void>;
  getGroup(id: string): Promise<Group | undefined>;
  getGroupByName(name: string): Promise<Group | undefined>;
  listGroups(): Promise<Group[]>;
  updateGroup(id: string, patch: GroupPatch): Promise<void>;
  deleteGroup(id: string): Promise<boolean>;
  addGroupMember(groupId: string, userId: string): Promise<boolean>;
  removeGroupMember(groupId: string, userId: string): Promise<boolean>;
  listGroupMembers(groupId: string): Promise<User[]>;
  listUserGroups(userId: string): Promise<Group[]>;
  // managed policies
  createPolicy(p: ManagedPolicy): Promise<void>;
  getPolicy(id: string): Promise<ManagedPolicy | undefined>;
  getPolicyByName(name: string): Promise<ManagedPolicy | undefined>;
  listPolicies(): Promise<ManagedPolicy[]>;
  updatePolicy(id: string, patch: ManagedPolicyPatch): Promise<void>;
  deletePolicy(id: string): Promise<boolean>;
  // permission sets
  createPermissionSet(p: PermissionSet): Promise<void>;
  getPermissionSet(id: string): Promise<PermissionSet | undefined>;
  getPermissionSetByName(name: string): Promise<PermissionSet | undefined>;
  listPermissionSets(): Promise<PermissionSet[]>;
  updatePermissionSet(id: string, patch: PermissionSetPatch): Promise<void>;
  deletePermissionSet(id: string): Promise<boolean>;
  // assignments of permission sets to users and groups
  createAssignment(a: Assignment): Promise<void>;
  deleteAssignment(id: string): Promise<boolean>;
  listAssignments(filter?: AssignmentFilter): Promise<Assignment[]>;
  /** The whole access model in a few queries, read in one transaction. */
  loadAccessSnapshot(): Promise<AccessSnapshot>;
  // bearer tokens (only hashes are stored)
  createApiToken(t: ApiToken): Promise<void>;
  getApiToken(tokenHash: string): Promise<ApiToken | undefined>;
  deleteApiToken(tokenHash: string): Promise<void>;
  deleteUserApiTokens(userId: string): Promise<void>;
  /** The token with its sign-in session, in one query. */
  findTokenSession(
    tokenHash: string,
  ): Promise<{ token: ApiToken; session: SignInSession | undefined } | undefined>;
  // sign-in sessions
  createSignInSession(s: NewSignInSession): Promise<void>;
  getSignInSession(id: string): Promise<SignInSession | undefined>;
  listSignInSessions(userId: string): Promise<SignInSession[]>;
  /** Revokes the session and deletes its tokens. */
  revokeSignInSession(id: string, now: number): Promise<boolean>;
  /** Revokes all of a user's sign-ins, deletes their tokens, and ends the sign-ins still under way (flows). */
  revokeUserSignInSessions(userId: string, now: number): Promise<number>;
  /**
   * Finds the session whose current refresh token this is, or (`reused`) whose spent one it was; for the token
   * spent last, `rotatedTo` is the hash of the token it was rotated to (still the current one).
   */
  findRefresh(
    refreshHash: string,
  ): Promise<{ session: SignInSession; reused: boolean; rotatedTo?: string } | undefined>;
  /** Rotates only if `oldHash` is still the current refresh token: of concurrent callers exactly one wins. */
  rotateRefresh(sessionId: string, oldHash: string, newHash: string): Promise<boolean>;
  // short-lived sign-in state
  createFlow(f: AuthFlow): Promise<void>;
  getFlow(idHash: string): Promise<AuthFlow | undefined>;
  updateFlow(idHash: string, patch: { data?: Record<string, unknown>; attempts?: number }): Promise<void>;
  /** Replaces the flow's data only if it is still `expected` (as read); false when another write came first. */
  replaceFlowData(
    idHash: string,
    expected: Record<string, unknown>,
    data: Record<string, unknown>,
  ): Promise<boolean>;
  /** Counts one attempt before it is checked; undefined when none is left (or the flow is gone). Atomic. */
  reserveFlowAttempt(idHash: string, max: number, now: number): Promise<number | undefined>;
  /** Deletes and returns the flow: of concurrent callers exactly one gets it. */
  takeFlow(idHash: string): Promise<AuthFlow | undefined>;
  purgeExpiredSignInState(now: number): Promise<void>;
  /** Records `key` as used; false when it was already (replay protection: SAML assertion ids). */
  consumeOnce(key: string, expiresAt: number): Promise<boolean>;
  // MFA devices
  createMfaDevice(d: MfaDevice): Promise<void>;
  listMfaDevices(userId: string): Promise<MfaDevice[]>;
  getMfaDeviceByCredentialId(credentialId: string): Promise<MfaDevice | undefined>;
  /** Marks a TOTP step used; false if this step (or a later one) was used already. */
  claimTotpStep(deviceId: string, step: number, now: number): Promise<boolean>;
  setWebAuthnCounter(deviceId: string, counter: number, now: number): Promise<void>;
  renameMfaDevice(userId: string, deviceId: string, name: string): Promise<boolean>;
  deleteMfaDevice(userId: string, deviceId: string): Promise<boolean>;
  deleteUserMfaDevices(userId: string): Promise<number>;
  // remembered sign-in contexts (MFA "only when the context changes")
  rememberSignInContext(c: {
    userId: string;
    deviceHash: string;
    sourceAddress: string;
    mfaAt: number;
    expiresAt: number;
  }): Promise<void>;
  getSignInContext(
    userId: string,
    deviceHash: string,
  ): Promise<{ sourceAddress: string; mfaAt: number; expiresAt: number } | undefined>;
  forgetSignInContexts(userId: string): Promise<void>;
  /** Forgets the remembered context of the device the sign-in `sessionId` was made on, if any. */
  forgetSignInDevice(sessionId: string): Promise<void>;
  // failure counters for rate limiting and lockout
  getThrottle(key: string): Promise<Throttle | undefined>;
  putThrottle(t: Throttle): Promise<void>;
  /** One more failure for `key`, in one statement (concurrent failures all count): the counter after it. */
  recordThrottleFailure(f: {
    key: string;
    now: number;
    windowMs: number;
    limit: number;
    lockoutMs: number;
  }): Promise<Throttle>;
  /**
   * Takes back one failure of `key` (one counted before its check, which then passed), in one statement; a lock
   * that needed it ends.
   */
  releaseThrottleFailure(f: { key: string; limit: number }): Promise<void>;
  /** Deletes the counter `key`, and those whose key starts with `alsoStartingWith` when given. */
  clearThrottle(key: string, alsoStartingWith?: string): Promise<void>;
  // settings (JSON values by key)
  getSetting(key: string): Promise<unknown>;
  putSetting(key: string, value: unknown, now: number): Promise<void>;
  // identity providers
  createIdentityProvider(p: IdentityProviderRecord): Promise<void>;
  getIdentityProvider(id: string): Promise<IdentityProviderRecord | undefined>;
  listIdentityProviders(): Promise<IdentityProviderRecord[]>;
  updateIdentityProvider(
    id: string,
    patch: { name?: string; config?: Record<string, unknown>; enabled?: boolean; updatedAt: number },
  ): Promise<void>;
  deleteIdentityProvider(id: string): Promise<boolean>;
  // one-time setup/invitation tokens
  createSetupToken(t: NewSetupToken): Promise<void>;
  /** Uses up the link and every other unused link of its user; its user's id, if it was valid. */
  consumeSetupToken(tokenHash: string, now: number): Promise<string | undefined>;
  /** The user a setup link is for, while it is unused and unexpired, without using it up. */
  findSetupToken(tokenHash: string, now: number): Promise<string | undefined>;
  deleteSetupTokensForUser(userId: string): Promise<void>;
  // activations
  createActivation(a: Activation): Promise<void>;
  getActivation(id: string): Promise<Activation | undefined>;
  listActivations(): Promise<Activation[]>;
  deleteActivation(id: string): Promise<boolean>;
  // instances
  createInstance(i: Instance): Promise<void>;
  /**
   * Claims one registration of the instance's activation and creates the instance, in one transaction:
   * 'limit' when the activation may register no more (or has expired), 'key taken' when another instance has this
   * agent key (nothing is claimed then).
   */
  registerInstance(i: Instance, now: number): Promise<'created' | 'limit' | 'key taken'>;
  getInstance(id: string): Promise<Instance | undefined>;
  findInstancesByName(name: string): Promise<Instance[]>;
  /** The instance registered with this agent public key (base64 DER), if any. */
  findInstanceByPublicKey(publicKey: string): Promise<Instance | undefined>;
  listInstances(): Promise<Instance[]>;
  updateInventory(id: string, inv: Inventory): Promise<void>;
  setInstanceStatus(id: string, status: InstanceStatus, lastSeenAt: number): Promise<void>;
  markAllInstancesConnectionLost(): Promise<number>;
  /** Replaces the instance's tags (a Name tag renames it); `expected` and the answer as for setUserTags. */
  setInstanceTags(id: string, tags: Tags, expected?: Tags): Promise<boolean>;
  deleteInstance(id: string): Promise<boolean>;
  // sessions
  createSession(s: SessionRecord): Promise<void>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  listSessions(filter: SessionFilter): Promise<SessionRecord[]>;
  updateSession(id: string, patch: SessionPatch): Promise<void>;
  /** Ends every session left active (a server stopped without ending them): the ones it ended. */
  failDanglingSessions(
    now: number,
    reason: string,
  ): Promise<Pick<SessionRecord, 'id' | 'recordingKey' | 'startedAt'>[]>;
  // audit trail (append-only)
  appendAudit(e: Omit<AuditEvent, 'seq'>): Promise<AuditEvent>;
  listAudit(filter: AuditFilter): Promise<AuditEvent[]>;
  close(): Promise<void>;
}
