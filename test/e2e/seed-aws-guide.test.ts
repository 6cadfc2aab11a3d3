/**
 * The AWS guide (seeds/004): ProductionAccess and DevelopmentAccess, their permission sets pasted verbatim,
 * each user reaching only their servers, terminating only their own sessions; then the on-premises variant.
 */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startSesame } from './harness.ts';

type Sesame = Awaited<ReturnType<typeof startSesame>>;
const fixtures = resolve(import.meta.dirname, '../../packages/policy/fixtures');
const PASSWORD = 'seed-password-123456';

async function ok(promise: Promise<{ code: number | null; stdout: string; stderr: string }>) {
  const result = await promise;
  assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
  return result;
}

describe('the AWS guide: production and development access by resource tag', () => {
  let sesame: Sesame;
  const ids: Record<string, string> = {};

  before(async () => {
    sesame = await startSesame();
    const cli = sesame.cli;
    for (const [user, group] of [
      ['testuser01', 'ProductionAccess'],
      ['testuser02', 'DevelopmentAccess'],
    ] as const) {
      await ok(cli(['admin', 'groups', 'create', group]));
      const created = JSON.parse(
        (await ok(cli(['admin', 'users', 'create', user, '--output', 'json']))).stdout,
      );
      await ok(cli(['setup', '--url', sesame.url], user, `${created.setupToken}\n${PASSWORD}\n`));
      await ok(cli(['admin', 'groups', 'add-member', group, user]));
    }
    for (const [set, file, group] of [
      ['ProductionPermissionSet', '004-production-permission-set.txt', 'ProductionAccess'],
      ['DevelopmentPermissionSet', '004-development-permission-set.txt', 'DevelopmentAccess'],
    ] as const) {
      await ok(cli(['admin', 'permission-sets', 'create', set, '--inline-policy', `${fixtures}/${file}`]));
      await ok(cli(['admin', 'assignments', 'create', '--permission-set', set, '--group', group]));
    }
    for (const [name, project] of [
      ['prod-server01', 'Production'],
      ['dev-server01', 'Development'],
    ]) {
      const agent = await sesame.registerAgent(name as string, { kind: 'ec2', tags: [`project=${project}`] });
      ids[name as string] = agent.instanceId;
      sesame.startAgent(agent.identity);
      await sesame.waitForStatus(agent.instanceId, 'Online');
    }
    ids['onprem-prod'] = (
      await sesame.registerAgent('onprem-prod', { kind: 'managed', tags: ['project=Production'] })
    ).instanceId;
  });
  after(async () => sesame?.stop());

  const names = async (user: string) =>
    JSON.parse((await ok(sesame.cli(['instances', '--output', 'json'], user))).stdout)
      .instances.map((i: { name: string }) => i.name)
      .sort();

  test('each user sees only the instances of their project', async () => {
    assert.match(ids['prod-server01'] as string, /^i-[0-9a-f]{17}$/);
    assert.deepEqual(await names('testuser01'), ['prod-server01']);
    assert.deepEqual(await names('testuser02'), ['dev-server01']);
    assert.deepEqual(await names('admin'), ['dev-server01', 'onprem-prod', 'prod-server01']);
  });

  test('each user starts sessions only on their server', async () => {
    const denied = await sesame.cli(['ssh', 'dev-server01'], 'testuser01');
    assert.equal(denied.code, 4);
    assert.match(
      denied.stderr,
      /not allowed to ssm:StartSession on arn:aws:ec2:local:000000000000:instance\/i-/,
    );
    assert.equal((await sesame.cli(['ssh', 'prod-server01'], 'testuser02')).code, 4);
    for (const [user, server] of [
      ['testuser01', 'prod-server01'],
      ['testuser02', 'dev-server01'],
    ] as const) {
      const shell = sesame.shell(server, user);
      await shell.output.wait(new RegExp(`SessionId: ${user}-[0-9a-f]{17}`));
      shell.pty.write('echo "on $((1+1))"; exit\r');
      await shell.output.wait(/on 2/);
      assert.equal(await shell.exit, 0);
    }
  });

  test('a user terminates their own sessions only (session/${aws:username}-*)', async () => {
    const mine = sesame.shell('prod-server01', 'testuser01');
    const [, myId] = await mine.output.wait(/SessionId: (\S+)/);
    const theirs = sesame.shell('dev-server01', 'testuser02');
    const [, theirId] = await theirs.output.wait(/SessionId: (\S+)/);
    const refused = await sesame.cli(['terminate', theirId as string], 'testuser01');
    assert.equal(refused.code, 4);
    assert.match(refused.stderr, /not allowed to ssm:TerminateSession/);
    await ok(sesame.cli(['terminate', myId as string], 'testuser01'));
    assert.equal(await mine.exit, 255);
    await ok(sesame.cli(['terminate', theirId as string], 'testuser02'));
    assert.equal(await theirs.exit, 255);
  });

  const simulate = (user: string, action: string, ...rest: string[]) =>
    sesame.cli(['policy', 'simulate', '--user', user, '--action', action, ...rest]);

  test('the simulator says which statement decided and which conditions failed', async () => {
    const notYet = await simulate('testuser01', 'ssm:GetServiceSetting', '--resource', '*');
    assert.equal(notYet.code, 4, 'the first permission sets of the guide do not grant GetServiceSetting');
    assert.match(notYet.stdout, /DENIED \(ImplicitDeny\)/);
    const startProd = await simulate('testuser01', 'ssm:StartSession', '--target', 'prod-server01');
    assert.equal(startProd.code, 0);
    assert.match(startProd.stdout, /ALLOWED \(Allow\) by ProductionPermissionSet\/inline/);
    const lines = startProd.stdout.trim().split('\n');
    assert.equal(lines.filter((l) => !l.startsWith('  assumed: ')).length, 1, 'the decision is said once');
    assert.match(startProd.stdout, /assumed: signed in with MFA just now/);
    assert.match(notYet.stdout, /no statement allows ssm:GetServiceSetting/, 'an implicit deny says why');
    const startDev = await simulate(
      'testuser01',
      'ssm:StartSession',
      '--target',
      'dev-server01',
      '--output',
      'json',
    );
    assert.equal(startDev.code, 4);
    const result = JSON.parse(startDev.stdout);
    assert.equal(result.decision.effect, 'ImplicitDeny');
    assert.ok(
      result.decision.failedConditions.some((f: { key: string }) => /ssm:resourceTag\/project/i.test(f.key)),
    );
  });

  test('the on-premises variant reaches mi- servers; the explicit Deny on service settings beats the Allow', async () => {
    assert.ok(
      !(await names('testuser01')).includes('onprem-prod'),
      'the EC2-only policy does not reach mi- servers',
    );
    for (const [set, file] of [
      ['ProductionPermissionSet', '004-production-permission-set-on-premises.txt'],
      ['DevelopmentPermissionSet', '004-development-permission-set-on-premises.txt'],
    ]) {
      await ok(
        sesame.cli([
          'admin',
          'permission-sets',
          'update',
          set as string,
          '--inline-policy',
          `${fixtures}/${file}`,
        ]),
      );
    }
    assert.deepEqual(await names('testuser01'), ['onprem-prod', 'prod-server01']);
    assert.deepEqual(await names('testuser02'), ['dev-server01']);
    assert.equal((await simulate('testuser01', 'ssm:GetServiceSetting', '--resource', '*')).code, 0);
    const denied = await simulate('testuser01', 'ssm:UpdateServiceSetting', '--resource', '*');
    assert.equal(denied.code, 4);
    assert.match(denied.stdout, /DENIED \(Deny\)/);
  });
});
