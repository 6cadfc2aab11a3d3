// Test support (not a test itself): the State Street PAM set-up that the SSO tests sign in to: the published
// ABAC policy verbatim, a listing policy, the PAM permission set assigned to the group pam-users, and agents
// registered with the instance tags the policy compares with principal tags.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { registerAgent } from '../agents/test-agent.ts';
import type { TestServer } from '../test-server.ts';

export const STATE_STREET_ABAC = readFileSync(
  resolve(import.meta.dirname, '../../../policy/fixtures/000-state-street-abac.txt'),
  'utf8',
);

/** Name, APP_GROUP_NAME, APP_ID, RELEASE_ID. */
type Machine = [string, string, string, string];

/**
 * Creates the policies, the permission set, the group pam-users and `otherGroups`, and the assignment of the set to
 * pam-users; registers `machines`; returns their instance ids by name.
 */
export async function setUpStateStreetPam(
  ts: TestServer,
  otherGroups: string[],
  machines: Machine[],
): Promise<Record<string, string>> {
  const admin = async (method: string, path: string, json: unknown) => {
    const r = await ts.api(method, path, { token: ts.adminToken, json });
    assert.equal(r.status, 200, r.text);
  };
  await admin('POST', '/api/v1/policies', { name: 'PamAbac', document: STATE_STREET_ABAC });
  const listing = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'ec2:DescribeInstances', Resource: '*' }],
  };
  await admin('POST', '/api/v1/policies', { name: 'PamListing', document: listing });
  await admin('POST', '/api/v1/permission-sets', { name: 'PAM', policies: ['PamAbac', 'PamListing'] });
  for (const name of ['pam-users', ...otherGroups]) await admin('POST', '/api/v1/groups', { name });
  const assignment = { permissionSet: 'PAM', principalType: 'group', principalName: 'pam-users' };
  await admin('POST', '/api/v1/assignments', assignment);
  const instances: Record<string, string> = {};
  for (const [Name, group, app, release] of machines) {
    const { instanceId } = await registerAgent(ts);
    const tags = { Name, APP_GROUP_NAME: group, APP_ID: app, RELEASE_ID: release };
    await admin('PUT', `/api/v1/instances/${instanceId}/tags`, tags);
    instances[Name] = instanceId;
  }
  return instances;
}
