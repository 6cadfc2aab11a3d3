// Test support (not a test itself): complete domain objects with overridable fields.
import type { Activation, AuditEvent, Instance, SessionRecord } from './types.ts';

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

export function instance(overrides: Partial<Instance> = {}): Instance {
  return {
    id: 'mi-0123456789abcdef0',
    name: 'web-1',
    kind: 'managed',
    activationId: 'act-1',
    publicKey: 'ed25519:AAAA',
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
