import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from './errors.ts';
import { decodeFrame, encodeFrame } from './frame-codec.ts';
import type { Frame, JsonObject } from './frame-types.ts';

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const channel = fc.integer({ min: 1, max: 0xffff_ffff });
const u16 = fc.integer({ min: 1, max: 0xffff });
// JSON values that survive a JSON round trip unchanged (no -0, no undefined, no NaN).
const jsonValue = fc.jsonValue().map((value) => JSON.parse(JSON.stringify(value)) as unknown);
const jsonObject: fc.Arbitrary<JsonObject> = fc
  .dictionary(fc.string(), jsonValue, { maxKeys: 5 })
  .map((value) => JSON.parse(JSON.stringify(value)) as JsonObject);
const codeAndMessage = { code: fc.string(), message: fc.string() };
const signal = fc.option(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), { nil: null });

// fc.record builds null-prototype objects; decodeFrame returns plain ones.
const frameArbitrary: fc.Arbitrary<Frame> = fc
  .oneof(
    fc.record({ version: u16, minVersion: u16, info: jsonObject }).map(({ version, minVersion, info }) => ({
      type: 'hello' as const,
      version: Math.max(version, minVersion),
      minVersion: Math.min(version, minVersion),
      info,
    })),
    fc.record({
      type: fc.constant('open' as const),
      channel,
      window: u32,
      maxData: channel,
      spec: jsonObject,
    }),
    fc.record({
      type: fc.constant('accept' as const),
      channel,
      window: u32,
      maxData: channel,
      info: jsonObject,
    }),
    fc.record({ type: fc.constant('reject' as const), channel, ...codeAndMessage }),
    fc.record({ type: fc.constant('data' as const), channel, data: fc.uint8Array({ maxLength: 300 }) }),
    fc.record({ type: fc.constant('window' as const), channel, increment: channel }),
    fc.record({ type: fc.constant('resize' as const), channel, cols: u16, rows: u16 }),
    fc.record({ type: fc.constant('eof' as const), channel }),
    fc.record({
      type: fc.constant('exit' as const),
      channel,
      code: fc.option(fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }), { nil: null }),
      signal,
    }),
    fc.record({ type: fc.constant('close' as const), channel, ...codeAndMessage }),
    fc.record({ type: fc.constant('ping' as const), nonce: u32 }),
    fc.record({ type: fc.constant('pong' as const), nonce: u32 }),
    fc.record({ type: fc.constant('goaway' as const), ...codeAndMessage }),
  )
  .map((frame) => ({ ...frame }) as Frame);

function decodeOnlyThrowsProtocolError(bytes: Uint8Array, max?: number): Frame | undefined {
  try {
    return decodeFrame(bytes, max);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw new Error(`decodeFrame threw a non-ProtocolError: ${error}`);
    assert.ok(error.message.length > 0);
    return undefined;
  }
}

test('valid frames survive an encode/decode round trip', () => {
  fc.assert(
    fc.property(frameArbitrary, (frame) => {
      assert.deepEqual(decodeFrame(encodeFrame(frame)), frame);
    }),
    { numRuns: 2000 },
  );
});

test('arbitrary bytes never make decodeFrame throw anything but ProtocolError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 80 }), (bytes, max) => {
      decodeOnlyThrowsProtocolError(bytes, max);
    }),
    { numRuns: 5000 },
  );
});

test('bytes starting with a known type never make decodeFrame throw anything but ProtocolError', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 13 }), fc.uint8Array({ maxLength: 40 }), (type, rest) => {
      decodeOnlyThrowsProtocolError(new Uint8Array([type, 0, 0, 0, rest.length % 3, ...rest]));
    }),
    { numRuns: 5000 },
  );
});

test('mutated valid frames decode to a valid frame or throw ProtocolError', () => {
  const mutation = fc.record({
    flips: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
    extra: fc.uint8Array({ maxLength: 3 }),
  });
  fc.assert(
    fc.property(frameArbitrary, mutation, (frame, { flips, cut, extra }) => {
      const bytes = encodeFrame(frame);
      for (const { at, value } of flips) bytes[at % bytes.length] = value;
      const mutated = new Uint8Array([
        ...bytes.subarray(0, cut === undefined ? bytes.length : cut % (bytes.length + 1)),
        ...extra,
      ]);
      const decoded = decodeOnlyThrowsProtocolError(mutated);
      // Whatever decodes is a frame that encodes again (the decoder accepts only what the encoder can produce).
      if (decoded) assert.ok(encodeFrame(decoded) instanceof Uint8Array);
    }),
    { numRuns: 5000 },
  );
});
