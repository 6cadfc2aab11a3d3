// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are spelled ${…} in policy text.
// Test support (not a test itself): complete domain objects with overridable fields.
import type {
  Activation,
  Assignment,
  AuditEvent,
  Group,
  IdentityProviderRecord,
  Instance,
  ManagedPolicy,
  MfaDevice,
  NewUser,
  PermissionSet,
  SessionRecord,
} from './types.ts';

export const T0 = 1_750_000_000_000; // an epoch-ms instant beyond 2^32, as real times are

export function activation(overrides: Partial<Activation> = {}): Activation {
  return {
    id: 'act-1',
    codeHash: 'sha256:code',
    description: 'web fleet',
    instanceKind: 'managed',
    registrationLimit: 5,
    registrationsCount: 0,
    expiresAt: T0 + 86_400_000,
    defaultTags: { Environment: 'Production', APP_ID: '42' },
    defaultInstanceName: null,
    createdBy: 'u-admin',
    createdAt: T0,
    ...overrides,
  };
}

/** An instance; its key follows its id unless given, since one key registers one instance. */
export function instance(overrides: Partial<Instance> = {}): Instance {
  const id = overrides.id ?? 'mi-0123456789abcdef0';
  return {
    id,
    name: 'web-1',
    kind: 'managed',
    activationId: 'act-1',
    publicKey: `ed25519:${id}`,
    status: 'Online',
    lastSeenAt: T0,
    registeredAt: T0,
    hostname: 'web-1.internal',
    platform: 'linux',
    platformVersion: 'debian 12',
    ipAddresses: ['10.0.0.5', 'fe80::1'],
    agentVersion: '0.1.0',
    tags: { Environment: 'Production' },
    ...overrides,
  };
}

export function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: 'alice-0123456789abcdef0',
    ownerId: 'u-alice',
    owner: 'alice',
    instanceId: 'mi-0123456789abcdef0',
    document: 'SSM-SessionManagerRunShell',
    state: 'Connecting',
    reason: null,
    startedAt: T0,
    endedAt: null,
    exitCode: null,
    recordingKey: null,
    clientAddress: '192.0.2.7',
    ...overrides,
  };
}

export function auditEvent(overrides: Partial<Omit<AuditEvent, 'seq'>> = {}): Omit<AuditEvent, 'seq'> {
  return {
    time: T0,
    actor: 'alice',
    action: 'ssm:StartSession',
    resource: 'arn:aws:ec2:local:000000000000:instance/i-0123456789abcdef0',
    outcome: 'allowed',
    sourceAddress: '192.0.2.7',
    detail: { sessionId: 'alice-0123456789abcdef0', nested: { n: 1, list: [true, null] } },
    ...overrides,
  };
}

export function newUser(overrides: Partial<NewUser> = {}): NewUser {
  return {
    id: 'u-alice',
    username: 'alice',
    passwordHash: null,
    isAdmin: false,
    createdAt: T0,
    email: null,
    source: 'local',
    externalId: null,
    ...overrides,
  };
}

export function group(overrides: Partial<Group> = {}): Group {
  return {
    id: 'g-production',
    name: 'ProductionAccess',
    description: 'This user group can manage all production servers.',
    createdAt: T0,
    ...overrides,
  };
}

export function managedPolicy(overrides: Partial<ManagedPolicy> = {}): ManagedPolicy {
  return {
    id: 'p-describe',
    name: 'DescribeSessionsAndInstances',
    description: 'see sessions and instances',
    document: JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['ssm:DescribeSessions', 'ssm:DescribeInstanceProperties', 'ec2:DescribeInstances'],
          Resource: '*',
        },
      ],
    }),
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

/** The AWS guide's inline policy: start sessions on instances whose `project` tag is `project`. */
export function projectPolicy(project: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'VisualEditor0',
        Effect: 'Allow',
        Action: [
          'ssm:DescribeSessions',
          'ssm:DescribeInstanceProperties',
          'ec2:DescribeInstances',
          'ssm:GetConnectionStatus',
        ],
        Resource: '*',
      },
      {
        Effect: 'Allow',
        Action: ['ssm:StartSession'],
        Resource: ['arn:aws:ec2:*:*:instance/*'],
        Condition: { StringLike: { 'ssm:resourceTag/project': [project] } },
      },
      {
        Effect: 'Allow',
        Action: ['ssm:TerminateSession'],
        Resource: ['arn:aws:ssm:*:*:session/${aws:username}-*'],
      },
    ],
  });
}

export function permissionSet(overrides: Partial<PermissionSet> = {}): PermissionSet {
  return {
    id: 'ps-production',
    name: 'ProductionPermissionSet',
    description:
      'Permission set to access Session Manager limited to all instances with project tag = Production.',
    sessionDurationMs: 3_600_000,
    inlinePolicy: projectPolicy('Production'),
    policyIds: [],
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

export function assignment(overrides: Partial<Assignment> = {}): Assignment {
  return {
    id: 'as-1',
    permissionSetId: 'ps-production',
    principalType: 'group',
    principalId: 'g-production',
    createdAt: T0,
    ...overrides,
  };
}

/** An authenticator app (TOTP) of u-alice; a security key with `kind: 'webauthn'`, `secret: null` and its credential. */
export function mfaDevice(overrides: Partial<MfaDevice> = {}): MfaDevice {
  return {
    id: 'mfa-1',
    userId: 'u-alice',
    kind: 'totp',
    name: 'phone',
    secret: 'JBSWY3DPEHPK3PXP',
    credentialId: null,
    publicKey: null,
    counter: 0,
    transports: [],
    lastUsedStep: null,
    createdAt: T0,
    lastUsedAt: null,
    ...overrides,
  };
}

/** An OIDC provider with a client secret (a confidential client). */
export function identityProvider(overrides: Partial<IdentityProviderRecord> = {}): IdentityProviderRecord {
  return {
    id: 'okta',
    kind: 'oidc',
    name: 'Okta',
    config: { issuer: 'https://idp.example', clientId: 'sesame', clientSecret: 'client-secret-1' },
    enabled: true,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}
