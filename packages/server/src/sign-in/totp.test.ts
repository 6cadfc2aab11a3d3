import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Secret } from 'otpauth';
import { newTotpSecret, totpAt, totpQrSvg, totpStep, totpUri, verifyTotp } from './totp.ts';

const RFC_SECRET = Secret.fromLatin1('12345678901234567890').base32;

describe('totp', () => {
  test('generation matches the RFC 6238 Appendix B SHA1 vectors', () => {
    const vectors: [number, string][] = [
      [59, '94287082'],
      [1111111109, '07081804'],
      [1111111111, '14050471'],
      [1234567890, '89005924'],
      [2000000000, '69279037'],
      [20000000000, '65353130'],
    ];
    for (const [time, expected] of vectors) assert.equal(totpAt(RFC_SECRET, time, 8), expected, `T=${time}`);
    assert.equal(totpAt(RFC_SECRET, 59), '287082', 'six digits are the low six of the eight');
  });

  test('a new secret is 20 random bytes in base32', () => {
    const secret = newTotpSecret();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    assert.equal(Secret.fromBase32(secret).bytes.length, 20);
    assert.notEqual(newTotpSecret(), secret);
  });

  test('accepts the current step and one step either side, refuses two away', () => {
    const secret = RFC_SECRET;
    const nowSeconds = 1_700_000_015;
    const now = new Date(nowSeconds * 1000);
    const step = totpStep(nowSeconds);
    for (const offset of [-1, 0, 1]) {
      const code = totpAt(secret, nowSeconds + offset * 30);
      assert.deepEqual(verifyTotp({ secret, code, now, lastUsedStep: null }), {
        ok: true,
        step: step + offset,
      });
    }
    for (const offset of [-2, 2]) {
      const code = totpAt(secret, nowSeconds + offset * 30);
      assert.deepEqual(verifyTotp({ secret, code, now }), { ok: false, reason: 'wrong' });
    }
  });

  test('a code is single use, and an older code is refused once a newer one was used', () => {
    const secret = RFC_SECRET;
    const nowSeconds = 1_700_000_015;
    const now = new Date(nowSeconds * 1000);
    const code = totpAt(secret, nowSeconds);
    const first = verifyTotp({ secret, code, now });
    assert.equal(first.ok, true);
    assert.ok(first.ok);
    const later = new Date(now.getTime() + 5_000);
    assert.deepEqual(verifyTotp({ secret, code, now: later, lastUsedStep: first.step }), {
      ok: false,
      reason: 'reused',
    });
    const previous = totpAt(secret, nowSeconds - 30);
    assert.deepEqual(verifyTotp({ secret, code: previous, now, lastUsedStep: first.step }), {
      ok: false,
      reason: 'reused',
    });
    const next = totpAt(secret, nowSeconds + 30);
    assert.deepEqual(verifyTotp({ secret, code: next, now, lastUsedStep: first.step }), {
      ok: true,
      step: first.step + 1,
    });
  });

  test('a wrong code is wrong, not reused', () => {
    const secret = RFC_SECRET;
    const now = new Date(1_700_000_015_000);
    const right = totpAt(secret, 1_700_000_015);
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
    assert.deepEqual(verifyTotp({ secret, code: wrong, now, lastUsedStep: 0 }), {
      ok: false,
      reason: 'wrong',
    });
  });

  test('anything but exactly six ASCII digits is malformed', () => {
    const secret = RFC_SECRET;
    const now = new Date();
    for (const code of [
      '12345',
      '1234567',
      'abcdef',
      ' 123456',
      '123456 ',
      '',
      '12 456',
      '١٢٣٤٥٦',
      '123456\n',
    ]) {
      assert.deepEqual(
        verifyTotp({ secret, code, now }),
        { ok: false, reason: 'malformed' },
        JSON.stringify(code),
      );
    }
  });

  test('the URI names issuer and account and states SHA1, 6 digits, 30 s', () => {
    const secret = newTotpSecret();
    const uri = new URL(totpUri({ secret, account: 'alice@example.com', issuer: 'Sesame' }));
    assert.equal(uri.protocol, 'otpauth:');
    assert.equal(uri.host, 'totp');
    assert.equal(decodeURIComponent(uri.pathname), '/Sesame:alice@example.com');
    assert.equal(uri.searchParams.get('secret'), secret);
    assert.equal(uri.searchParams.get('issuer'), 'Sesame');
    assert.equal(uri.searchParams.get('algorithm'), 'SHA1');
    assert.equal(uri.searchParams.get('digits'), '6');
    assert.equal(uri.searchParams.get('period'), '30');
  });

  test('the QR code is an SVG document', async () => {
    const svg = await totpQrSvg(totpUri({ secret: newTotpSecret(), account: 'bob', issuer: 'Sesame' }));
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\s*$/);
  });
});
