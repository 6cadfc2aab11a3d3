import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { describe, test } from 'node:test';
import { SesameError } from '../errors.ts';
import {
  type AuthenticationResponseJSON,
  createWebAuthn,
  type RegistrationResponseJSON,
} from './webauthn.ts';

const RP = { rpId: 'sesame.example.test', rpName: 'Sesame', origin: 'https://sesame.example.test' };

// --- a software authenticator: just enough CBOR and ES256 to produce real, verifiable responses -------------

type Cbor = number | string | Uint8Array | Map<Cbor, Cbor> | { [key: string]: Cbor };

function cborHead(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

function cbor(value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? cborHead(0, value) : cborHead(1, -1 - value);
  if (typeof value === 'string')
    return Buffer.concat([cborHead(3, Buffer.byteLength(value)), Buffer.from(value)]);
  if (value instanceof Uint8Array) return Buffer.concat([cborHead(2, value.length), value]);
  const entries = value instanceof Map ? [...value] : Object.entries(value);
  return Buffer.concat([cborHead(5, entries.length), ...entries.flatMap(([k, v]) => [cbor(k), cbor(v)])]);
}

const b64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();
const FLAGS = { up: 0x01, uv: 0x04, at: 0x40 } as const;

function authData(rpId: string, flags: number, counter: number, attested?: Buffer): Buffer {
  const count = Buffer.alloc(4);
  count.writeUInt32BE(counter);
  return Buffer.concat([sha256(rpId), Buffer.from([flags]), count, ...(attested ? [attested] : [])]);
}

function softAuthenticator({ rpId = RP.rpId, origin = RP.origin } = {}) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const credentialId = randomBytes(16);
  let signCount = 0;
  const clientData = (type: string, challenge: string) =>
    Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));

  return {
    id: b64url(credentialId),
    register(challenge: string, { uv = true } = {}): RegistrationResponseJSON {
      const jwk = publicKey.export({ format: 'jwk' });
      const cose = new Map<Cbor, Cbor>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x ?? '', 'base64url')],
        [-3, Buffer.from(jwk.y ?? '', 'base64url')],
      ]);
      const idLength = Buffer.from([credentialId.length >> 8, credentialId.length & 0xff]);
      const attested = Buffer.concat([Buffer.alloc(16), idLength, credentialId, cbor(cose)]);
      const data = authData(rpId, FLAGS.up | (uv ? FLAGS.uv : 0) | FLAGS.at, signCount, attested);
      const attestationObject = cbor({ fmt: 'none', attStmt: {}, authData: data });
      return {
        id: b64url(credentialId),
        rawId: b64url(credentialId),
        type: 'public-key',
        clientExtensionResults: {},
        response: {
          clientDataJSON: b64url(clientData('webauthn.create', challenge)),
          attestationObject: b64url(attestationObject),
          transports: ['usb'],
        },
      };
    },
    authenticate(challenge: string, { counter = ++signCount, key = privateKey as KeyObject } = {}) {
      const data = authData(rpId, FLAGS.up | FLAGS.uv, counter);
      const clientDataJSON = clientData('webauthn.get', challenge);
      const signature = sign('sha256', Buffer.concat([data, sha256(clientDataJSON)]), key);
      const response: AuthenticationResponseJSON = {
        id: b64url(credentialId),
        rawId: b64url(credentialId),
        type: 'public-key',
        clientExtensionResults: {},
        response: {
          clientDataJSON: b64url(clientDataJSON),
          authenticatorData: b64url(data),
          signature: b64url(signature),
        },
      };
      return response;
    },
  };
}

async function assertUnauthenticated(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SesameError, `expected a SesameError, got ${String(error)}`);
    assert.equal(error.code, 'UNAUTHENTICATED');
    assert.match(error.message, pattern);
    assert.doesNotMatch(
      error.message,
      /[A-Za-z0-9_-]{43}/,
      'no challenge (or other 32-byte value) is echoed',
    );
    return true;
  });
}

// --- tests --------------------------------------------------------------------------------------------------

describe('webauthn', () => {
  const webauthn = createWebAuthn(RP);

  async function registered() {
    const device = softAuthenticator();
    const { challenge } = await webauthn.registrationOptions({
      userId: 'u-1',
      username: 'alice',
      existing: [],
    });
    const stored = await webauthn.verifyRegistration({
      response: device.register(challenge),
      expectedChallenge: challenge,
    });
    return { device, stored };
  }

  test('registration options: fresh challenge, relying party, user, exclusions, passkey-friendly', async () => {
    const existing = [{ credentialId: b64url(randomBytes(16)), transports: ['usb', 'nfc', 'bogus'] }];
    const { options, challenge } = await webauthn.registrationOptions({
      userId: 'u-42',
      username: 'alice',
      existing,
    });
    assert.equal(options.challenge, challenge);
    assert.ok(Buffer.from(challenge, 'base64url').length >= 16);
    assert.deepEqual(options.rp, { name: 'Sesame', id: RP.rpId });
    assert.equal(options.user.name, 'alice');
    assert.equal(options.user.id, b64url('u-42'));
    assert.deepEqual(options.excludeCredentials, [
      { id: existing[0]?.credentialId, type: 'public-key', transports: ['usb', 'nfc'] },
    ]);
    assert.equal(options.attestation, 'none');
    assert.equal(options.authenticatorSelection?.residentKey, 'preferred');
    assert.equal(options.authenticatorSelection?.userVerification, 'preferred');
    assert.ok(options.pubKeyCredParams.some((p) => p.alg === -7));
    const again = await webauthn.registrationOptions({ userId: 'u-42', username: 'alice', existing: [] });
    assert.notEqual(again.challenge, challenge);
  });

  test('authentication options: rpId, allowed credentials, preferred user verification', async () => {
    const allow = [{ credentialId: b64url(randomBytes(16)), transports: ['internal', 'hybrid'] }];
    const { options, challenge } = await webauthn.authenticationOptions({ allow });
    assert.equal(options.challenge, challenge);
    assert.ok(Buffer.from(challenge, 'base64url').length >= 16);
    assert.equal(options.rpId, RP.rpId);
    assert.equal(options.userVerification, 'preferred');
    assert.deepEqual(options.allowCredentials, [
      { id: allow[0]?.credentialId, type: 'public-key', transports: ['internal', 'hybrid'] },
    ]);
  });

  test('a full ceremony with a software authenticator registers and then signs in', async () => {
    const { device, stored } = await registered();
    assert.equal(stored.credentialId, device.id);
    assert.equal(stored.counter, 0);
    assert.deepEqual(stored.transports, ['usb']);
    assert.equal(stored.aaguid, undefined, 'the all-zero AAGUID of attestation "none" is not kept');
    assert.ok(Buffer.from(stored.publicKey, 'base64url').length > 64);
    const { challenge } = await webauthn.authenticationOptions({ allow: [stored] });
    const result = await webauthn.verifyAuthentication({
      response: device.authenticate(challenge),
      expectedChallenge: challenge,
      credential: stored,
    });
    assert.deepEqual(result, { newCounter: 1, userVerified: true });
  });

  test('user verification is preferred, not required', async () => {
    const device = softAuthenticator();
    const { challenge } = await webauthn.registrationOptions({
      userId: 'u-1',
      username: 'alice',
      existing: [],
    });
    const stored = await webauthn.verifyRegistration({
      response: device.register(challenge, { uv: false }),
      expectedChallenge: challenge,
    });
    assert.equal(stored.userVerified, false);
  });

  test('garbage and forged registrations are UNAUTHENTICATED', async () => {
    const { challenge } = await webauthn.registrationOptions({
      userId: 'u-1',
      username: 'alice',
      existing: [],
    });
    const garbage = {
      id: 'x',
      rawId: 'x',
      type: 'public-key',
      response: {},
    } as unknown as RegistrationResponseJSON;
    await assertUnauthenticated(
      webauthn.verifyRegistration({ response: garbage, expectedChallenge: challenge }),
      /malformed/,
    );
    const mangled = softAuthenticator().register(challenge);
    mangled.response.attestationObject = b64url('not cbor at all');
    await assertUnauthenticated(
      webauthn.verifyRegistration({ response: mangled, expectedChallenge: challenge }),
      /malformed/,
    );
    const otherChallenge = softAuthenticator().register(b64url(randomBytes(32)));
    await assertUnauthenticated(
      webauthn.verifyRegistration({ response: otherChallenge, expectedChallenge: challenge }),
      /different challenge/,
    );
    const phishing = softAuthenticator({ origin: 'https://sesame.example.evil' }).register(challenge);
    await assertUnauthenticated(
      webauthn.verifyRegistration({ response: phishing, expectedChallenge: challenge }),
      /origin/i,
    );
    const otherRp = softAuthenticator({ rpId: 'example.evil' }).register(challenge);
    await assertUnauthenticated(
      webauthn.verifyRegistration({ response: otherRp, expectedChallenge: challenge }),
      /RP ID/i,
    );
  });

  test('garbage and forged sign-ins are UNAUTHENTICATED', async () => {
    const { device, stored } = await registered();
    const { challenge } = await webauthn.authenticationOptions({ allow: [stored] });
    const check = (response: AuthenticationResponseJSON, credential = stored) =>
      webauthn.verifyAuthentication({ response, expectedChallenge: challenge, credential });

    const garbage = { id: stored.credentialId, rawId: stored.credentialId, response: {} };
    await assertUnauthenticated(check(garbage as unknown as AuthenticationResponseJSON), /credential type/);
    const { privateKey: otherKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await assertUnauthenticated(check(device.authenticate(challenge, { key: otherKey })), /signature/i);
    await assertUnauthenticated(check(device.authenticate(b64url(randomBytes(32)))), /different challenge/);
    await assertUnauthenticated(check(softAuthenticator().authenticate(challenge)), /different credential/);
    const tampered = device.authenticate(challenge);
    tampered.response.authenticatorData = b64url(authData(RP.rpId, FLAGS.up | FLAGS.uv, 999));
    await assertUnauthenticated(check(tampered), /signature/i);
  });

  test('a signature counter that does not move forward is refused; zero stays allowed', async () => {
    const { device, stored } = await registered();
    const { challenge } = await webauthn.authenticationOptions({ allow: [stored] });
    const at = (storedCounter: number, counter: number) =>
      webauthn.verifyAuthentication({
        response: device.authenticate(challenge, { counter }),
        expectedChallenge: challenge,
        credential: { ...stored, counter: storedCounter },
      });
    await assertUnauthenticated(at(5, 4), /counter went backwards/);
    await assertUnauthenticated(at(5, 5), /counter went backwards/);
    await assertUnauthenticated(at(5, 0), /counter went backwards/);
    assert.equal((await at(5, 6)).newCounter, 6);
    assert.equal((await at(0, 0)).newCounter, 0, 'passkeys that never count stay usable');
  });
});
