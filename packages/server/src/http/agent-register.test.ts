import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { agentKeys, INVENTORY } from '../agents/test-agent.ts';
import { assertError, startTestServer, type TestServer } from '../test-server.ts';

let ts: TestServer;
before(async () => {
  ts = await startTestServer();
});
after(() => ts.close());

async function activation(json: Record<string, unknown> = {}): Promise<{ id: string; code: string }> {
  const created = await ts.api('POST', '/api/v1/activations', { token: ts.adminToken, json });
  assert.equal(created.status, 200, created.text);
  return { id: (created.body.activation as { id: string }).id, code: String(created.body.code) };
}

const register = (json: Record<string, unknown>) => ts.api('POST', '/api/v1/agent/register', { json });
const body = (a: { id: string; code: string }, overrides: Record<string, unknown> = {}) => ({
  activationId: a.id,
  activationCode: a.code,
  publicKey: agentKeys().publicKey,
  inventory: INVENTORY,
  ...overrides,
});

const codes: string[] = [];

describe('POST /api/v1/agent/register', () => {
  test('a good registration: 200 with the instance id and name', async () => {
    const a = await activation({ defaultInstanceName: 'web' });
    codes.push(a.code);
    const response = await register(body(a));
    assert.equal(response.status, 200, response.text);
    assert.match(String(response.body.instanceId), /^mi-[0-9a-f]{17}$/);
    assert.equal(response.body.name, 'web');
  });

  test('a wrong code or an unknown id: 401, the same message', async () => {
    const a = await activation();
    codes.push(a.code);
    const wrong = await register(body(a, { activationCode: 'x'.repeat(27) }));
    assertError(wrong, 401, 'UNAUTHENTICATED', /activation id or code is wrong/);
    const unknown = await register(body({ id: '6f1c1f5e-0000-4000-8000-000000000000', code: a.code }));
    assertError(unknown, 401, 'UNAUTHENTICATED', /activation id or code is wrong/);
    assertError(await register(body(a, { activationId: 42 })), 400, 'INVALID', /^activationId is required/);
  });

  test('an expired activation: 401 saying to ask for a new one', async () => {
    const a = await activation();
    codes.push(a.code);
    const stored = await ts.server.store.getActivation(a.id);
    assert.ok(stored);
    // The same activation, already past its end (the store holds what the service made, only the time moved).
    await ts.server.store.deleteActivation(a.id);
    await ts.server.store.createActivation({ ...stored, expiresAt: Date.now() - 1 });
    assertError(await register(body(a)), 401, 'UNAUTHENTICATED', /expired.*ask an administrator/);
  });

  test('limit 2: the third registration gets 403', async () => {
    const a = await activation({ registrationLimit: 2 });
    codes.push(a.code);
    assert.equal((await register(body(a))).status, 200);
    assert.equal((await register(body(a))).status, 200);
    assertError(await register(body(a)), 403, 'FORBIDDEN', /registration limit of 2/);
  });

  test('the same key again (its answer was lost): the same instance, the activation not spent twice', async () => {
    const a = await activation({ registrationLimit: 1 });
    codes.push(a.code);
    const key = agentKeys().publicKey;
    const first = await register(body(a, { publicKey: key }));
    assert.equal(first.status, 200, first.text);
    const again = await register(body(a, { publicKey: key }));
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.instanceId, first.body.instanceId);
    const stored = await ts.server.store.getActivation(a.id);
    assert.equal(stored?.registrationsCount, 1);
    // A wrong code learns nothing about the key; another activation may not adopt it.
    assertError(
      await register(body(a, { publicKey: key, activationCode: 'x'.repeat(27) })),
      401,
      'UNAUTHENTICATED',
      /activation id or code is wrong/,
    );
    const other = await activation();
    codes.push(other.code);
    assertError(
      await register(body(other, { publicKey: key })),
      409,
      'CONFLICT',
      new RegExp(`already registered as ${first.body.instanceId} with another activation`),
    );
    assert.equal((await ts.server.store.getActivation(other.id))?.registrationsCount, 0);
  });

  test('the same key twice at once: one instance, one registration spent; another spelling of the key is the same key', async () => {
    const a = await activation({ registrationLimit: 2 });
    codes.push(a.code);
    const key = agentKeys().publicKey;
    const [one, two] = await Promise.all([
      register(body(a, { publicKey: key })),
      register(body(a, { publicKey: key })),
    ]);
    assert.equal(one.status, 200, one.text);
    assert.equal(two.status, 200, two.text);
    assert.equal(one.body.instanceId, two.body.instanceId);
    assert.equal((await ts.server.store.getActivation(a.id))?.registrationsCount, 1);
    // Base64 without its padding, with a line break: the same key, so the same instance.
    const respelled = `${key.replace(/=+$/, '').slice(0, 20)}\n${key.replace(/=+$/, '').slice(20)}`;
    const again = await register(body(a, { publicKey: respelled }));
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.instanceId, one.body.instanceId);
    assert.equal((await ts.server.store.getActivation(a.id))?.registrationsCount, 1);
  });

  test('a malformed public key: 400 saying what a key must be', async () => {
    const a = await activation();
    codes.push(a.code);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const pem = ec.export({ format: 'pem', type: 'spki' }).toString();
    for (const publicKey of [
      ec.export({ format: 'der', type: 'spki' }).toString('base64'),
      pem,
      'bm90IGEga2V5',
      '!!!',
      null,
      { kty: 'OKP' },
    ]) {
      assertError(
        await register(body(a, { publicKey })),
        400,
        'INVALID',
        /publicKey must be an Ed25519 public key/,
      );
    }
    assert.equal((await register(body(a))).status, 200, 'the activation was not used up by the bad requests');
  });

  test('a missing activation id or code: 400 naming it', async () => {
    const a = await activation();
    assertError(
      await register(body(a, { activationId: undefined })),
      400,
      'INVALID',
      /^activationId is required/,
    );
    assertError(
      await register(body(a, { activationCode: 7 })),
      400,
      'INVALID',
      /^activationCode is required/,
    );
  });

  test('a malformed inventory: 400 naming the field', async () => {
    const a = await activation();
    codes.push(a.code);
    assertError(await register(body(a, { inventory: null })), 400, 'INVALID', /inventory\./);
    assertError(
      await register(body(a, { inventory: { ...INVENTORY, hostname: 7 } })),
      400,
      'INVALID',
      /inventory\.hostname/,
    );
    assertError(
      await register(body(a, { inventory: { ...INVENTORY, ipAddresses: [1, 2] } })),
      400,
      'INVALID',
      /inventory\.ipAddresses/,
    );
  });

  test('malformed JSON, a non-object body, a body over 64 KiB: 400/400/413 JSON', async () => {
    const a = await activation();
    codes.push(a.code);
    const broken = `{"activationId": "${a.id}", "activationCode": "${a.code}"`;
    assertError(await ts.api('POST', '/api/v1/agent/register', { raw: broken }), 400, 'INVALID', /JSON/);
    assertError(await ts.api('POST', '/api/v1/agent/register', { json: 'x' }), 400, 'INVALID', /JSON object/);
    const big = body(a, { inventory: { ...INVENTORY, hostname: 'h'.repeat(70_000) } });
    assertError(await register(big), 413, 'INVALID', /too large/);
  });

  test('no activation code is in the log or the audit trail', async () => {
    const trail = JSON.stringify(await ts.server.store.listAudit({ limit: 1000 }));
    const log = ts.logs.join('');
    assert.ok(codes.length >= 7);
    for (const code of codes) {
      assert.ok(!trail.includes(code), 'an activation code is in the audit trail');
      assert.ok(!log.includes(code), 'an activation code is in the log');
    }
    const failures = (await ts.server.store.listAudit({ actor: 'agent', limit: 1000 })).filter(
      (e) => e.outcome === 'failed',
    );
    assert.deepEqual([...new Set(failures.map((e) => String(e.detail.reason).split(':')[0]))].sort(), [
      'bad activation',
      'expired',
      'invalid request',
      'key registered with another activation',
      'limit',
    ]);
  });
});
