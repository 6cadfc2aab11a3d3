import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { agentKeys, INVENTORY } from '../agents/test-agent.ts';
import { createActivationService, parseAgentPublicKey, parseInventory } from './activations.ts';
import { ADMIN, ALICE, rejects, serviceFixture } from './service-fixture.ts';

const HOUR = 3_600_000;
type Fixture = Awaited<ReturnType<typeof serviceFixture>>;

let f: Fixture;
let service: ReturnType<typeof createActivationService>;

beforeEach(async () => {
  f = await serviceFixture();
  service = createActivationService({
    store: f.store,
    guard: f.guard,
    audit: f.audit,
    arn: f.arn,
    now: f.now,
  });
});
afterEach(() => f.store.close());

const registration = (activationId: string, activationCode: string, overrides = {}) => ({
  activationId,
  activationCode,
  publicKey: agentKeys().publicKey,
  inventory: INVENTORY,
  ...overrides,
});

describe('activations: administration', () => {
  test('an administrator creates, lists and deletes; the code is shown once and never stored', async () => {
    const { activation, code } = await service.create(ADMIN, {
      description: 'web tier',
      registrationLimit: 3,
    });
    assert.equal(activation.description, 'web tier');
    assert.equal(activation.registrationLimit, 3);
    assert.equal(activation.expired, false);
    assert.ok(!('codeHash' in activation));
    const listed = await service.list(ADMIN);
    assert.deepEqual(
      listed.map((a) => a.id),
      [activation.id],
    );
    assert.ok(!JSON.stringify(listed).includes(code));
    await service.remove(ADMIN, activation.id);
    assert.deepEqual(await service.list(ADMIN), []);
    assert.ok(!(await f.trail()).includes(code), 'the activation code is in the audit trail or the log');
  });

  test('a listed activation says when it expired', async () => {
    await service.create(ADMIN, { expiresInHours: 1 });
    f.advance(HOUR);
    assert.equal((await service.list(ADMIN))[0]?.expired, true);
  });

  test('a non-administrator may not create, list or delete, and the denial is audited', async () => {
    const { activation } = await service.create(ADMIN, {});
    await rejects(service.create(ALICE, {}), 'FORBIDDEN', /ssm:CreateActivation/);
    await rejects(service.list(ALICE), 'FORBIDDEN', /ssm:DescribeActivations/);
    await rejects(service.remove(ALICE, activation.id), 'FORBIDDEN', /ssm:DeleteActivation/);
    await new Promise((resolve) => setImmediate(resolve)); // the guard audits without waiting
    const denied = (await f.store.listAudit({ actor: 'alice' })).map((e) => `${e.action} ${e.outcome}`);
    assert.deepEqual(denied, [
      'ssm:CreateActivation denied',
      'ssm:DescribeActivations denied',
      'ssm:DeleteActivation denied',
    ]);
    assert.equal((await service.list(ADMIN)).length, 1);
  });

  test('bad input is refused with the field named', async () => {
    await rejects(service.create(ADMIN, { registrationLimit: 0 }), 'INVALID', /registrationLimit/);
    await rejects(
      service.create(ADMIN, { defaultTags: { project: 'a', Project: 'b' } }),
      'INVALID',
      /defaultTags: tag keys "project" and "Project" differ only in letter case; policies cannot tell them apart/,
    );
    await rejects(
      service.create(ADMIN, { limit: 5 }),
      'INVALID',
      /unknown field "limit": this request takes "description", "instanceKind", "registrationLimit"/,
    );
    await rejects(service.create(ADMIN, { expiresInHours: 721 }), 'INVALID', /expiresInHours/);
    await rejects(service.create(ADMIN, { instanceKind: 'vm' }), 'INVALID', /instanceKind/);
    await rejects(service.create(ADMIN, { defaultTags: { 'aws:x': '1' } }), 'INVALID', /defaultTags/);
    await rejects(service.remove(ADMIN, 'no-such-id'), 'NOT_FOUND', /no-such-id/);
  });
});

describe('activations: registration', () => {
  test('a good registration creates the instance with the default tags, and is audited', async () => {
    const { activation, code } = await service.create(ADMIN, {
      instanceKind: 'ec2',
      defaultTags: { project: 'Production' },
    });
    const instance = await service.register(registration(activation.id, code), '192.0.2.1');
    assert.match(instance.id, /^i-[0-9a-f]{17}$/);
    assert.deepEqual(instance.tags, { project: 'Production', Name: INVENTORY.hostname });
    const [event] = await f.store.listAudit({ actor: 'agent' });
    assert.equal(event?.outcome, 'succeeded');
    assert.equal(event?.sourceAddress, '192.0.2.1');
    assert.ok(!(await f.trail()).includes(code));
  });

  test('a default "name" tag in any letter case is not doubled by the Name tag registration adds', async () => {
    const { activation, code } = await service.create(ADMIN, { defaultTags: { name: 'web' } });
    const instance = await service.register(registration(activation.id, code), null);
    assert.deepEqual(instance.tags, { name: 'web' });
  });

  test('a wrong code and an unknown id get the same answer, audited without the code', async () => {
    const { activation, code } = await service.create(ADMIN, {});
    const wrong = `${code.slice(0, -1)}${code.endsWith('A') ? 'B' : 'A'}`;
    const a = await rejects(
      service.register(registration(activation.id, wrong), null),
      'UNAUTHENTICATED',
      /wrong/,
    );
    const b = await rejects(
      service.register(registration('00000000-0000-0000-0000-000000000000', code), null),
      'UNAUTHENTICATED',
      /wrong/,
    );
    assert.equal(a, b);
    await rejects(
      service.register(registration(activation.id, ''), null),
      'INVALID',
      /activationCode is required/,
    );
    const failures = await f.store.listAudit({ actor: 'agent' });
    assert.deepEqual(
      failures.map((e) => [e.outcome, String(e.detail.reason).replace(/ \(a string\).*/, '')]),
      [
        ['failed', 'bad activation'],
        ['failed', 'bad activation'],
        ['failed', 'invalid request: activationCode is required'],
      ],
    );
    const trail = await f.trail();
    assert.ok(!trail.includes(code) && !trail.includes(wrong), 'an activation code is in the trail');
  });

  test('an expired activation is refused, and says to ask for a new one', async () => {
    const { activation, code } = await service.create(ADMIN, { expiresInHours: 2 });
    f.advance(2 * HOUR);
    await rejects(
      service.register(registration(activation.id, code), null),
      'UNAUTHENTICATED',
      /expired.*new one/,
    );
    assert.equal((await f.store.listAudit({ actor: 'agent' }))[0]?.detail.reason, 'expired');
  });

  test('registration limit 2: the third registration is refused', async () => {
    const { activation, code } = await service.create(ADMIN, { registrationLimit: 2 });
    const first = await service.register(registration(activation.id, code), null);
    const second = await service.register(registration(activation.id, code), null);
    assert.notEqual(first.id, second.id);
    await rejects(
      service.register(registration(activation.id, code), null),
      'FORBIDDEN',
      /limit of 2.*new one/,
    );
    assert.equal((await service.list(ADMIN))[0]?.registrationsCount, 2);
    assert.equal((await f.store.listInstances()).length, 2);
  });

  test('concurrent registrations never pass the limit', async () => {
    const { activation, code } = await service.create(ADMIN, { registrationLimit: 3 });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => service.register(registration(activation.id, code), null)),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
  });

  test('one key registered twice at once (both looked it up before either created it): one instance, one claim', async () => {
    for (const registrationLimit of [1, 2]) {
      // Both requests look the key up before either has created its instance, as on a busy server.
      let blind = 2;
      const racing = createActivationService({
        store: {
          ...f.store,
          findInstanceByPublicKey: (key: string) =>
            blind-- > 0 ? Promise.resolve(undefined) : f.store.findInstanceByPublicKey(key),
        },
        guard: f.guard,
        audit: f.audit,
        arn: f.arn,
        now: f.now,
      });
      const { activation, code } = await service.create(ADMIN, { registrationLimit });
      const same = registration(activation.id, code);
      const [one, two] = await Promise.all([racing.register(same, null), racing.register(same, null)]);
      assert.equal(one.id, two.id, `limit ${registrationLimit}: the loser is answered as a repeat`);
      assert.equal((await f.store.listInstances()).filter((i) => i.activationId === activation.id).length, 1);
      const listed = (await service.list(ADMIN)).find((a) => a.id === activation.id);
      assert.equal(listed?.registrationsCount, 1, `limit ${registrationLimit}: one claim`);
    }
  });

  test('a malformed public key or inventory is refused before the activation is used, and audited', async () => {
    const { activation, code } = await service.create(ADMIN, { registrationLimit: 1 });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    const rsaKey = rsa.export({ format: 'der', type: 'spki' }).toString('base64');
    for (const publicKey of [rsaKey, 'not a key', '', 42, 'A'.repeat(300), undefined]) {
      await rejects(
        service.register(registration(activation.id, code, { publicKey }), null),
        'INVALID',
        /publicKey must be an Ed25519 public key.*sesame-agent register/,
      );
    }
    for (const inventory of [
      undefined,
      'web-1',
      { ...INVENTORY, hostname: '' },
      { ...INVENTORY, ipAddresses: 'x' },
    ]) {
      await rejects(
        service.register(registration(activation.id, code, { inventory }), null),
        'INVALID',
        /inventory\./,
      );
    }
    assert.equal((await service.list(ADMIN))[0]?.registrationsCount, 0);
    const failures = await f.store.listAudit({ actor: 'agent' });
    assert.equal(failures.length, 10);
    assert.ok(failures.every((e) => e.outcome === 'failed' && String(e.detail.reason).startsWith('invalid')));
    assert.ok(!(await f.trail()).includes(code));
    await service.register(registration(activation.id, code), null); // the activation still works
  });
});

describe('parseAgentPublicKey and parseInventory', () => {
  test('a real Ed25519 key is accepted, in one spelling whatever base64 it came in', () => {
    const { publicKey } = agentKeys();
    assert.equal(parseAgentPublicKey(publicKey), publicKey);
    assert.equal(parseAgentPublicKey(publicKey.replace(/=+$/, '')), publicKey);
    assert.equal(parseAgentPublicKey(` ${publicKey.slice(0, 10)}\n${publicKey.slice(10)}`), publicKey);
  });

  test('another kind of key is named as such', () => {
    const x25519 = generateKeyPairSync('x25519').publicKey.export({ format: 'der', type: 'spki' });
    assert.throws(() => parseAgentPublicKey(x25519.toString('base64')), /got a key of type x25519/);
  });

  test('inventory limits', () => {
    assert.deepEqual(parseInventory(INVENTORY), INVENTORY);
    assert.throws(
      () => parseInventory({ ...INVENTORY, ipAddresses: Array(65).fill('10.0.0.1') }),
      /at most 64/,
    );
    assert.throws(() => parseInventory({ ...INVENTORY, platform: 'x'.repeat(65) }), /inventory.platform/);
  });

  test('inventory text that would drive or fool a terminal is refused, naming the character', () => {
    // What `sesame instances` would print raw: a window-title OSC, an erase-line and a carriage return.
    assert.throws(
      () => parseInventory({ ...INVENTORY, hostname: '\x1b]0;pwned\x07\x1b[2K\rweb-1' }),
      /inventory\.hostname must not contain control or bidirectional-override characters \(found U\+001B at position 0\)/,
    );
    assert.throws(() => parseInventory({ ...INVENTORY, platformVersion: '6.1\n' }), /U\+000A at position 3/);
    assert.throws(() => parseInventory({ ...INVENTORY, agentVersion: '1\u009b2' }), /U\+009B at position 1/);
    assert.throws(
      () => parseInventory({ ...INVENTORY, hostname: 'web\u202egpj.exe' }),
      /U\+202E at position 3/,
    );
    assert.equal(parseInventory({ ...INVENTORY, hostname: 'wéb-01.例え' }).hostname, 'wéb-01.例え');
  });

  test('each IP address must be one, and the error names the entry', () => {
    assert.throws(
      () => parseInventory({ ...INVENTORY, ipAddresses: ['10.0.0.1', '\x1b[31mnot-an-ip\n'] }),
      /inventory\.ipAddresses\[1\] must be an IPv4 or IPv6 address \(got "\\u001b\[31mnot-an-ip\\n"\)/,
    );
    assert.throws(() => parseInventory({ ...INVENTORY, ipAddresses: [7] }), /ipAddresses\[0\].*\(got 7\)/);
    const ipAddresses = ['10.0.0.1', 'fe80::1%eth0', '::ffff:192.0.2.1'];
    assert.deepEqual(parseInventory({ ...INVENTORY, ipAddresses }).ipAddresses, ipAddresses);
  });
});
