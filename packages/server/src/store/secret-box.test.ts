import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createSecretBox, isSealed, SecretBoxError, secretsKeyId } from './secret-box.ts';

const KEY = Buffer.alloc(32, 1);
const box = createSecretBox(KEY);
const HERE = 'mfa_devices.secret of device mfa-1';

describe('secret box', () => {
  test('seals with a fresh IV each time and opens for the same context', () => {
    const one = box.seal('JBSWY3DPEHPK3PXP', HERE);
    const two = box.seal('JBSWY3DPEHPK3PXP', HERE);
    assert.notEqual(one, two);
    assert.ok(isSealed(one));
    assert.match(one, new RegExp(`^sealed:v1:${box.keyId}:[A-Za-z0-9_-]+$`));
    assert.equal(box.open(one, HERE), 'JBSWY3DPEHPK3PXP');
    assert.equal(box.open(box.seal('', HERE), HERE), '', 'the empty text too');
    assert.equal(box.open(box.seal('ünïcødé ✓', HERE), HERE), 'ünïcødé ✓');
  });

  test('the key id names the key without being part of it', () => {
    assert.equal(box.keyId, secretsKeyId(KEY));
    assert.match(box.keyId, /^[0-9a-f]{16}$/);
    assert.notEqual(box.keyId, secretsKeyId(Buffer.alloc(32, 2)));
    assert.ok(!KEY.toString('hex').includes(box.keyId));
  });

  test('a value sealed for one place does not open in another', () => {
    const sealed = box.seal('s3cret', HERE);
    assert.throws(
      () => box.open(sealed, 'mfa_devices.secret of device mfa-2'),
      (error: Error) =>
        error instanceof SecretBoxError &&
        /^mfa_devices\.secret of device mfa-2 does not open with this server's secrets key/.test(
          error.message,
        ),
    );
  });

  test('a changed byte anywhere is caught', () => {
    const sealed = box.seal('s3cret', HERE);
    const data = Buffer.from(sealed.split(':')[3] as string, 'base64url');
    for (const at of [0, 11, 12, data.length - 17, data.length - 1]) {
      const changed = Buffer.from(data);
      changed[at] = (changed[at] as number) ^ 1;
      assert.throws(
        () => box.open(`sealed:v1:${box.keyId}:${changed.toString('base64url')}`, HERE),
        /changed or damaged/,
      );
    }
  });

  test('another key is named as such, with both key ids', () => {
    const other = createSecretBox(Buffer.alloc(32, 2));
    assert.throws(
      () => other.open(box.seal('s3cret', HERE), HERE),
      new RegExp(
        `${HERE} was sealed with another secrets key \\(key id ${box.keyId}; this server's key is ${other.keyId}\\)`,
      ),
    );
  });

  test('what is not a sealed value is refused with what one looks like', () => {
    for (const bad of [
      'JBSWY3DPEHPK3PXP',
      'sealed:v1:',
      'sealed:v2:0123456789abcdef:AAAA',
      `sealed:v1:${box.keyId}:a b`,
    ])
      assert.throws(() => box.open(bad, HERE), /is not a sealed value \(sealed:v1:<key id>:<data>\)/, bad);
    assert.throws(() => box.open(`sealed:v1:${box.keyId}:AAAA`, HERE), /too short to be sealed \(3 bytes\)/);
    assert.equal(isSealed('JBSWY3DPEHPK3PXP'), false);
  });

  test('a key must be 32 bytes', () => {
    assert.throws(() => createSecretBox(Buffer.alloc(16)), /must be 32 bytes \(got 16\)/);
  });
});
